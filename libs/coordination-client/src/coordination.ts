import type { KeyValue, ServiceInstance, WatchEvent } from './coordination-client.js';

/** A transaction compare, as in etcd v3: `target` of `key` `op` `value` (a missing key has version 0). */
export interface TxnCompare {
  readonly key: string;
  readonly target: 'value' | 'version' | 'modRevision' | 'createRevision';
  readonly op: '=' | '!=' | '<' | '>';
  readonly value: string | number;
}

/** One operation of a transaction branch. */
export type TxnRequestOp =
  | { readonly put: { readonly key: string; readonly value: string; readonly lease?: string } }
  | { readonly get: { readonly key: string } }
  | { readonly delete: { readonly key: string } };

/** The answer to one {@link TxnRequestOp}, in order. */
export type TxnResponseOp =
  | { readonly get: KeyValue | null }
  | { readonly put: { readonly revision: number } }
  | { readonly delete: { readonly deleted: number } };

export interface WatchHandlers {
  /** First revision to deliver (default: only changes after the watch starts). */
  fromRevision?: number;
  onEvent: (event: WatchEvent) => void;
  /** The revision to resume from was compacted: the whole current state under the filter, then events after it. */
  onReset?: (items: KeyValue[], revision: number) => void;
  onError?: (error: Error) => void;
}

/**
 * The coordination port every service, the gateway and the orchestrator use: KV with revisions, CAS transactions,
 * watches from a revision, leases with keep-alive, FIFO locks with fencing tokens, elections, the service registry.
 * Two adapters implement it with the same behaviour: {@link CoordinationClient} (Concord's coordinator over REST)
 * and `EtcdCoordination` (an etcd v3 cluster over gRPC); `createCoordination` picks one from configuration.
 *
 * Errors are the same on both: a `CoordinatorHttpError` with the status the coordinator's API documents
 * (404 lease not found, 408 lock or campaign wait over, 409 prevRevision conflict, 410 compacted revision), or a
 * `CoordinatorUnavailableError` when no member could answer.
 */
export interface Coordination {
  /** Which backend answers: for logs and metrics, never for behaviour. */
  readonly backend: 'concord' | 'etcd';
  /** Releases connections and timers. */
  close(): void;

  put(
    key: string,
    value: string,
    opts?: { lease?: string; prevRevision?: number },
  ): Promise<{ revision: number }>;
  get(key: string, opts?: { serializable?: boolean }): Promise<KeyValue | null>;
  range(
    prefix: string,
    opts?: { limit?: number; revision?: number },
  ): Promise<{ revision: number; items: KeyValue[]; more: boolean }>;
  delete(key: string, opts?: { prevRevision?: number }): Promise<{ revision: number; deleted: number }>;
  txn(body: {
    compare?: readonly TxnCompare[];
    success?: readonly TxnRequestOp[];
    failure?: readonly TxnRequestOp[];
  }): Promise<{ succeeded: boolean; revision: number; responses: TxnResponseOp[] }>;

  grantLease(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }>;
  /** The TTL granted again, or null when the lease is gone (expired or revoked). */
  keepAlive(id: string): Promise<number | null>;
  revokeLease(id: string): Promise<void>;

  /**
   * Waits in FIFO order for `locks/{name}/`; the fencing token is the lock key's create revision. `holder` (an
   * instance name) is stored as the lock key's value, so whoever reads `locks/` sees who holds it.
   */
  lock(
    name: string,
    lease: string,
    waitMs?: number,
    holder?: string,
  ): Promise<{ key: string; fencingToken: number }>;
  unlock(name: string, key: string): Promise<void>;
  /** Waits until this candidate leads `elections/{name}/`; the term is its key's create revision. */
  campaign(
    name: string,
    lease: string,
    value: string,
    waitMs?: number,
  ): Promise<{ key: string; term: number }>;
  electionLeader(name: string): Promise<{ key: string; value: string; term: number } | null>;
  resign(name: string, key: string): Promise<void>;

  services(service: string): Promise<{ revision: number; instances: ServiceInstance[] }>;
  register(
    service: string,
    instanceId: string,
    value: { url: string; zone?: string; weight?: number; meta?: Record<string, unknown> },
    lease: string,
  ): Promise<{ revision: number }>;
  deregister(service: string, instanceId: string): Promise<void>;

  /**
   * Follows changes under a key or prefix, resuming after any disconnect from the revision after the last event
   * delivered (nothing missed or repeated), re-listing through `onReset` when that revision was compacted.
   */
  watch(
    filter: { key: string } | { prefix: string },
    handlers: WatchHandlers,
  ): { stop(): void; readonly lastRevision: number };
}
