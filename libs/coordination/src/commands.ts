/**
 * Commands of the coordinator's replicated state machine. Each is proposed through Raft as JSON and applied on
 * every node in log order; apply is deterministic (no clock, no randomness), so every node reaches the same state.
 */

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease?: string;
}

export type CompareTarget = 'value' | 'version' | 'modRevision' | 'createRevision';
export type CompareOp = '=' | '!=' | '<' | '>';

export interface Compare {
  readonly key: string;
  readonly target: CompareTarget;
  readonly op: CompareOp;
  readonly value: string | number;
}

export type TxnOp =
  | { readonly put: { readonly key: string; readonly value: string; readonly lease?: string } }
  | { readonly get: { readonly key: string } }
  | { readonly delete: { readonly key: string } };

export type Command =
  | {
      readonly type: 'put';
      readonly key: string;
      readonly value: string;
      readonly lease?: string;
      readonly prevRevision?: number;
    }
  | { readonly type: 'delete'; readonly key: string; readonly prevRevision?: number }
  | {
      readonly type: 'txn';
      readonly compare: readonly Compare[];
      readonly success: readonly TxnOp[];
      readonly failure: readonly TxnOp[];
    }
  | { readonly type: 'leaseGrant'; readonly ttlSeconds: number }
  | { readonly type: 'leaseRevoke'; readonly id: string }
  /** Proposed by the leader when a lease's TTL passed without keep-alive. Ignored if the lease is gone. */
  | { readonly type: 'leaseExpire'; readonly id: string }
  | { readonly type: 'compact'; readonly revision: number }
  /** Learner/member bookkeeping for the API: which API URL a Raft member serves on. */
  | { readonly type: 'memberMeta'; readonly id: string; readonly apiUrl: string | null };

export type TxnResponse =
  | { readonly get: KeyValue | null }
  | { readonly put: { revision: number } }
  | { readonly delete: { deleted: number } };

export type CommandResult =
  | {
      readonly ok: true;
      readonly revision: number;
      readonly deleted?: number;
      readonly prevKv?: KeyValue | null;
    }
  | {
      readonly ok: true;
      readonly revision: number;
      readonly succeeded: boolean;
      readonly responses: readonly TxnResponse[];
    }
  | {
      readonly ok: true;
      readonly revision: number;
      readonly lease: { readonly id: string; readonly ttlSeconds: number };
    }
  | { readonly ok: false; readonly error: 'conflict'; readonly modRevision: number }
  | { readonly ok: false; readonly error: 'leaseNotFound'; readonly lease: string }
  | { readonly ok: false; readonly error: 'compacted'; readonly compactRevision: number }
  | { readonly ok: false; readonly error: 'futureRevision'; readonly revision: number };

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  readonly revision: number;
}
