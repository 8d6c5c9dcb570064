import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CompareResult,
  CompareTarget,
  Etcd3,
  EtcdLeaseInvalidError,
  type ICompare,
  type IKeyValue,
  type IRequestOp,
  type IResponseOp,
  SortOrder,
  SortTarget,
  type Watcher,
} from 'etcd3';
import type { KeyValue, ServiceInstance, WatchEvent } from './coordination-client.js';
import type { Coordination, TxnCompare, TxnRequestOp, TxnResponseOp, WatchHandlers } from './coordination.js';
import { CoordinatorHttpError, CoordinatorUnavailableError } from './errors.js';

export interface EtcdCoordinationOptions {
  /** Client URLs of the etcd members, e.g. `http://10.0.0.1:2379` (any subset; the client fails over). */
  readonly endpoints: readonly string[];
  /** etcd user and password, when the cluster has authentication enabled. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** Deadline of one unary call. */
  readonly requestTimeoutMs?: number;
  /** Injected for tests; defaults to Math.random. */
  readonly random?: () => number;
  readonly onWarning?: (message: string) => void;
}

/** Sorted by create revision, oldest first: the order of a lock's or an election's queue. */
const byCreateRevision = { sort_target: SortTarget.Create, sort_order: SortOrder.Ascend } as const;
const noLimit = 0;

/**
 * The coordination port on an etcd v3 cluster, through the `etcd3` gRPC client (which keeps a connection per
 * member, fails over between them and resumes watch streams). Same keys, same semantics as Concord's coordinator:
 *
 * - KV, revisions, CAS and transactions map one to one onto etcd's (Concord's API is modelled on etcd v3).
 * - Locks and elections are queues of keys `locks/{name}/{lease}` and `elections/{name}/{lease}` bound to the
 *   caller's lease; the holder is the key with the lowest create revision, as in etcd's own `concurrency`
 *   package. The fencing token (a lock) and the term (an election) are that create revision: strictly
 *   increasing per name, because etcd's revision only grows.
 * - The registry is `services/{service}/{id}` with the JSON value `{url, zone?, weight?, meta?}` under a lease.
 * - Errors come back as the coordinator API's statuses (`CoordinatorHttpError`), transport failures as
 *   `CoordinatorUnavailableError`, so callers do not know which backend answers.
 */
export class EtcdCoordination implements Coordination {
  readonly backend = 'etcd' as const;
  private readonly client: Etcd3;
  private readonly timeoutMs: number;
  private readonly random: () => number;
  private closed = false;

  constructor(private readonly options: EtcdCoordinationOptions) {
    if (options.endpoints.length === 0) throw new Error('EtcdCoordination needs at least one etcd endpoint');
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.random = options.random ?? Math.random;
    this.client = new Etcd3({
      hosts: [...options.endpoints],
      ...(options.auth === undefined ? {} : { auth: { ...options.auth } }),
      dialTimeout: this.timeoutMs,
      // Unary calls get a deadline; watch and keep-alive streams live as long as needed.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + this.timeoutMs }),
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }

  // --- keys -------------------------------------------------------------------------------------------------

  async put(
    key: string,
    value: string,
    opts: { lease?: string; prevRevision?: number } = {},
  ): Promise<{ revision: number }> {
    const put = { key: Buffer.from(key), value: Buffer.from(value), lease: opts.lease ?? 0 };
    if (opts.prevRevision === undefined) {
      const response = await this.call(() => this.client.kv.put(put));
      return { revision: Number(response.header.revision) };
    }
    // prevRevision 0 means "must not exist": a missing key's mod revision compares as 0 in etcd.
    const response = await this.call(() =>
      this.client.kv.txn({
        compare: [modRevisionIs(key, opts.prevRevision ?? 0)],
        success: [{ request_put: put }],
        failure: [{ request_range: { key: Buffer.from(key) } }],
      }),
    );
    if (!response.succeeded) throw conflict(response.responses[0]);
    return { revision: Number(response.header.revision) };
  }

  async get(key: string, opts: { serializable?: boolean } = {}): Promise<KeyValue | null> {
    const response = await this.call(() =>
      this.client.kv.range({ key: Buffer.from(key), serializable: opts.serializable === true }),
    );
    const kv = response.kvs[0];
    return kv === undefined ? null : toKeyValue(kv);
  }

  async range(
    prefix: string,
    opts: { limit?: number; revision?: number } = {},
  ): Promise<{ revision: number; items: KeyValue[]; more: boolean }> {
    const response = await this.call(() =>
      this.client.kv.range({
        key: Buffer.from(prefix),
        range_end: prefixEnd(prefix),
        limit: opts.limit ?? noLimit,
        revision: opts.revision ?? 0,
      }),
    );
    return {
      revision: Number(response.header.revision),
      items: response.kvs.map(toKeyValue),
      more: response.more,
    };
  }

  async delete(
    key: string,
    opts: { prevRevision?: number } = {},
  ): Promise<{ revision: number; deleted: number }> {
    if (opts.prevRevision === undefined) {
      const response = await this.call(() => this.client.kv.deleteRange({ key: Buffer.from(key) }));
      return { revision: Number(response.header.revision), deleted: Number(response.deleted) };
    }
    const response = await this.call(() =>
      this.client.kv.txn({
        compare: [modRevisionIs(key, opts.prevRevision ?? 0)],
        success: [{ request_delete_range: { key: Buffer.from(key) } }],
        failure: [{ request_range: { key: Buffer.from(key) } }],
      }),
    );
    if (!response.succeeded) throw conflict(response.responses[0]);
    const deleted = response.responses[0]?.response_delete_range?.deleted ?? '0';
    return { revision: Number(response.header.revision), deleted: Number(deleted) };
  }

  async txn(body: {
    compare?: readonly TxnCompare[];
    success?: readonly TxnRequestOp[];
    failure?: readonly TxnRequestOp[];
  }): Promise<{ succeeded: boolean; revision: number; responses: TxnResponseOp[] }> {
    const compare = (body.compare ?? []).map(toCompare);
    const success = body.success ?? [];
    const failure = body.failure ?? [];
    const response = await this.call(() =>
      this.client.kv.txn({ compare, success: success.map(toRequestOp), failure: failure.map(toRequestOp) }),
    );
    const ops = response.succeeded ? success : failure;
    return {
      succeeded: response.succeeded,
      revision: Number(response.header.revision),
      responses: ops.map((op, i) => toResponseOp(op, response.responses[i])),
    };
  }

  // --- leases -----------------------------------------------------------------------------------------------

  async grantLease(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new CoordinatorHttpError(400, {
        detail: `ttlSeconds must be a positive integer, not ${ttlSeconds}`,
      });
    }
    const response = await this.call(() => this.client.leaseClient.leaseGrant({ TTL: ttlSeconds, ID: 0 }));
    return { id: String(response.ID), ttlSeconds: Number(response.TTL) };
  }

  /**
   * One keep-alive over etcd's LeaseKeepAlive stream: open, send the id, read the answer, close. The lease
   * keeper calls this every TTL/3, so a stream per beat costs nothing that matters and keeps this adapter
   * stateless (etcd3's own `Lease` would keep a stream per lease and hide the "lease gone" answer).
   */
  async keepAlive(id: string): Promise<number | null> {
    // The typings only declare `on`; the stream is a Node.js duplex stream.
    const stream = (await this.call(() => this.client.leaseClient.leaseKeepAlive())) as unknown as Duplex;
    try {
      const answer = await new Promise<{ TTL: string }>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new CoordinatorUnavailableError(`etcd keep-alive of lease ${id} timed out`)),
          this.timeoutMs,
        );
        stream.once('data', (data: { TTL: string }) => {
          clearTimeout(timer);
          resolve(data);
        });
        stream.once('error', (error: Error) => {
          clearTimeout(timer);
          reject(unavailable(error));
        });
        stream.write({ ID: id });
      });
      // etcd answers TTL 0 (or -1) for a lease that no longer exists.
      const ttl = Number(answer.TTL);
      return ttl > 0 ? ttl : null;
    } finally {
      stream.end();
    }
  }

  async revokeLease(id: string): Promise<void> {
    await this.call(() => this.client.leaseClient.leaseRevoke({ ID: id })).catch((error: unknown) => {
      if (error instanceof CoordinatorHttpError && error.status === 404) return;
      throw error;
    });
  }

  // --- locks and elections ----------------------------------------------------------------------------------

  async lock(
    name: string,
    lease: string,
    waitMs = 30_000,
    holder = '',
  ): Promise<{ key: string; fencingToken: number }> {
    const prefix = `locks/${name}/`;
    const { key, createRevision } = await this.enqueue(prefix, lease, holder);
    if (!(await this.awaitTurn(prefix, key, waitMs))) {
      await this.delete(key).catch(() => undefined);
      throw new CoordinatorHttpError(408, {
        detail: `lock ${name} not acquired within ${waitMs} ms`,
        waitMs,
      });
    }
    return { key, fencingToken: createRevision };
  }

  async unlock(name: string, key: string): Promise<void> {
    await this.delete(key.startsWith(`locks/${name}/`) ? key : `locks/${name}/${key}`);
  }

  async campaign(
    name: string,
    lease: string,
    value: string,
    waitMs = 3_600_000,
  ): Promise<{ key: string; term: number }> {
    const prefix = `elections/${name}/`;
    const { key, createRevision } = await this.enqueue(prefix, lease, value);
    if (!(await this.awaitTurn(prefix, key, waitMs))) {
      await this.delete(key).catch(() => undefined);
      throw new CoordinatorHttpError(408, { detail: `election ${name} not won within ${waitMs} ms`, waitMs });
    }
    return { key, term: createRevision };
  }

  async electionLeader(name: string): Promise<{ key: string; value: string; term: number } | null> {
    const prefix = `elections/${name}/`;
    const response = await this.call(() =>
      this.client.kv.range({
        key: Buffer.from(prefix),
        range_end: prefixEnd(prefix),
        limit: 1,
        ...byCreateRevision,
      }),
    );
    const first = response.kvs[0];
    if (first === undefined) return null;
    const kv = toKeyValue(first);
    return {
      key: kv.key,
      value: kv.value,
      term: kv.createRevision,
      ...(kv.lease ? { lease: kv.lease } : {}),
    };
  }

  async resign(name: string, key: string): Promise<void> {
    await this.delete(key.startsWith(`elections/${name}/`) ? key : `elections/${name}/${key}`);
  }

  // --- registry ---------------------------------------------------------------------------------------------

  async services(service: string): Promise<{ revision: number; instances: ServiceInstance[] }> {
    const { revision, items } = await this.range(`services/${service}/`);
    const instances: ServiceInstance[] = [];
    for (const kv of items) {
      const instance = parseInstance(kv);
      if (instance !== undefined) instances.push(instance);
    }
    return { revision, instances };
  }

  async register(
    service: string,
    instanceId: string,
    value: { url: string; zone?: string; weight?: number; meta?: Record<string, unknown> },
    lease: string,
  ): Promise<{ revision: number }> {
    if (!isName(service) || !isName(instanceId)) {
      throw new CoordinatorHttpError(400, {
        detail: 'service and instance id must be [A-Za-z0-9._-]{1,128}',
      });
    }
    if (!URL.canParse(value.url))
      throw new CoordinatorHttpError(400, { detail: `url is not a URL: ${value.url}` });
    const record = {
      url: value.url,
      ...(value.zone === undefined ? {} : { zone: value.zone }),
      ...(value.weight === undefined ? {} : { weight: value.weight }),
      ...(value.meta === undefined ? {} : { meta: value.meta }),
    };
    return this.put(`services/${service}/${instanceId}`, JSON.stringify(record), { lease });
  }

  async deregister(service: string, instanceId: string): Promise<void> {
    await this.delete(`services/${service}/${instanceId}`);
  }

  // --- watch ------------------------------------------------------------------------------------------------

  watch(
    filter: { key: string } | { prefix: string },
    handlers: WatchHandlers,
  ): { stop(): void; readonly lastRevision: number } {
    let stopped = false;
    let watcher: Watcher | undefined;
    let lastRevision = (handlers.fromRevision ?? 1) - 1;
    let next = handlers.fromRevision;
    let failures = 0;

    const open = async (): Promise<void> => {
      while (!stopped) {
        const builder = this.client.watch();
        if ('key' in filter) builder.key(filter.key);
        else builder.prefix(filter.prefix);
        if (next !== undefined) builder.startRevision(String(next));
        const current = builder.watcher();
        watcher = current;
        const ended = new Promise<Error>((resolve) => current.once('error', resolve));
        // etcd3 moves a watcher's resume point to the header revision on connect and on every batch; keep it on
        // the revision after the last event delivered, so a reconnect during a replay misses nothing.
        const pinResumePoint = () => {
          if (next !== undefined) current.request.start_revision = String(next);
        };
        current.on('connected', () => {
          failures = 0;
          pinResumePoint();
        });
        current.on('data', (response: { events: { type: string; kv: IKeyValue }[] }) => {
          for (const raw of response.events) {
            const kv = toKeyValue(raw.kv);
            const event: WatchEvent = {
              type: raw.type === 'Delete' ? 'delete' : 'put',
              kv,
              revision: kv.modRevision,
            };
            if (event.revision < lastRevision) continue;
            lastRevision = event.revision;
            next = event.revision + 1;
            if (!stopped) handlers.onEvent(event);
          }
          pinResumePoint();
        });
        current.on('disconnected', (error: Error) => {
          if (!stopped) handlers.onError?.(error);
        });
        // The server cancels a watch whose start revision was compacted (or after a permission change). etcd
        // 3.4 leaves `cancel_reason` empty and etcd3 drops `compact_revision`, so ask: is `next` still readable?
        const error = await ended;
        if (stopped) return;
        if (await this.isCompacted(next)) {
          try {
            const prefix = 'key' in filter ? filter.key : filter.prefix;
            const listed = await this.range(prefix, { limit: 10_000 });
            const items = 'key' in filter ? listed.items.filter((kv) => kv.key === filter.key) : listed.items;
            handlers.onReset?.(items, listed.revision);
            next = listed.revision + 1;
            lastRevision = listed.revision;
            this.options.onWarning?.(`watch resumed past a compaction: re-listed at ${listed.revision}`);
            continue;
          } catch (listError) {
            handlers.onError?.(listError as Error);
          }
        } else {
          handlers.onError?.(error);
        }
        failures += 1;
        await delay(Math.floor(this.random() * Math.min(2_000, 100 * 2 ** failures)));
      }
    };
    void open();
    return {
      stop: () => {
        stopped = true;
        void watcher?.cancel().catch(() => undefined);
      },
      get lastRevision() {
        return lastRevision;
      },
    };
  }

  // --- internals --------------------------------------------------------------------------------------------

  /** True when reading as of `revision` answers "compacted" (false when it is readable, or unknown). */
  private async isCompacted(revision: number | undefined): Promise<boolean> {
    if (revision === undefined) return false;
    try {
      await this.call(() =>
        this.client.kv.range({ key: Buffer.from([0]), revision, limit: 1, count_only: true }),
      );
      return false;
    } catch (error) {
      return error instanceof CoordinatorHttpError && error.status === 410;
    }
  }

  /** Puts `{prefix}{lease}` bound to the lease unless it exists (a retried call finds its own place in line). */
  private async enqueue(prefix: string, lease: string, value: string) {
    const key = `${prefix}${lease}`;
    const response = await this.call(() =>
      this.client.kv.txn({
        compare: [
          {
            key: Buffer.from(key),
            target: CompareTarget.Create,
            result: CompareResult.Equal,
            create_revision: 0,
          },
        ],
        success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(value), lease } }],
        failure: [{ request_range: { key: Buffer.from(key) } }],
      }),
    );
    const existing = response.responses[0]?.response_range?.kvs[0];
    const createRevision =
      response.succeeded || existing === undefined
        ? Number(response.header.revision)
        : Number(existing.create_revision);
    return { key, createRevision };
  }

  /**
   * True once `key` is the oldest under `prefix`; false at the deadline; a 404 if the key vanished (its lease
   * expired). Waits on a watch for deletions after the listing's revision, so no release is missed in between.
   */
  private async awaitTurn(prefix: string, key: string, waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const response = await this.call(() =>
        this.client.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix), ...byCreateRevision }),
      );
      const queue = response.kvs.map((kv) => kv.key.toString());
      if (!queue.includes(key)) {
        throw new CoordinatorHttpError(404, {
          detail: `${key} no longer exists: its lease expired or it was released`,
        });
      }
      if (queue[0] === key) return true;
      const remainingMs = deadline - Date.now();
      if (remainingMs <= 0) return false;
      await this.untilDeleteUnder(prefix, Number(response.header.revision) + 1, remainingMs);
    }
  }

  /** Resolves at the first deletion under `prefix` from `fromRevision`, or after `waitMs`. */
  private async untilDeleteUnder(prefix: string, fromRevision: number, waitMs: number): Promise<void> {
    const watcher = this.client
      .watch()
      .prefix(prefix)
      .only('delete')
      .startRevision(String(fromRevision))
      .watcher();
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, waitMs);
        watcher.once('delete', () => {
          clearTimeout(timer);
          resolve();
        });
        watcher.once('error', (error: Error) => {
          clearTimeout(timer);
          reject(unavailable(error));
        });
      });
    } finally {
      await watcher.cancel().catch(() => undefined);
    }
  }

  /** Runs one etcd call, translating its errors into the coordinator API's. */
  private async call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw translate(error);
    }
  }
}

function translate(error: unknown): Error {
  if (error instanceof CoordinatorHttpError || error instanceof CoordinatorUnavailableError) return error;
  const message = (error as Error).message ?? String(error);
  if (error instanceof EtcdLeaseInvalidError || /requested lease not found/.test(message)) {
    return new CoordinatorHttpError(404, { detail: 'lease not found' });
  }
  const compacted = /required revision has been compacted/.exec(message);
  if (compacted) return new CoordinatorHttpError(410, { detail: 'revision compacted' });
  if (/required revision is a future revision/.test(message)) {
    return new CoordinatorHttpError(400, { detail: 'revision is in the future' });
  }
  if (/permission denied|authentication failed|invalid auth token/i.test(message)) {
    return new CoordinatorHttpError(403, { detail: message });
  }
  if (/too large|request is too large/i.test(message))
    return new CoordinatorHttpError(413, { detail: message });
  if (/key is not provided|invalid argument|duplicate key/i.test(message)) {
    return new CoordinatorHttpError(400, { detail: message });
  }
  return unavailable(error);
}

function unavailable(error: unknown): CoordinatorUnavailableError {
  return new CoordinatorUnavailableError(`etcd unavailable: ${(error as Error).message ?? String(error)}`, {
    cause: error,
  });
}

function conflict(failure: IResponseOp | undefined): CoordinatorHttpError {
  const current = failure?.response_range?.kvs[0];
  return new CoordinatorHttpError(409, {
    detail: "prevRevision does not match the key's modRevision",
    modRevision: current === undefined ? 0 : Number(current.mod_revision),
  });
}

function modRevisionIs(key: string, revision: number): ICompare {
  return {
    key: Buffer.from(key),
    target: CompareTarget.Mod,
    result: CompareResult.Equal,
    mod_revision: revision,
  };
}

const compareResults = {
  '=': CompareResult.Equal,
  '!=': CompareResult.NotEqual,
  '<': CompareResult.Less,
  '>': CompareResult.Greater,
} as const;

function toCompare(compare: TxnCompare): ICompare {
  const base = { key: Buffer.from(compare.key), result: compareResults[compare.op] };
  switch (compare.target) {
    case 'value':
      return { ...base, target: CompareTarget.Value, value: Buffer.from(String(compare.value)) };
    case 'version':
      return { ...base, target: CompareTarget.Version, version: Number(compare.value) };
    case 'modRevision':
      return { ...base, target: CompareTarget.Mod, mod_revision: Number(compare.value) };
    case 'createRevision':
      return { ...base, target: CompareTarget.Create, create_revision: Number(compare.value) };
  }
}

function toRequestOp(op: TxnRequestOp): IRequestOp {
  if ('put' in op) {
    return {
      request_put: {
        key: Buffer.from(op.put.key),
        value: Buffer.from(op.put.value),
        lease: op.put.lease ?? 0,
      },
    };
  }
  if ('get' in op) return { request_range: { key: Buffer.from(op.get.key) } };
  return { request_delete_range: { key: Buffer.from(op.delete.key) } };
}

function toResponseOp(op: TxnRequestOp, response: IResponseOp | undefined): TxnResponseOp {
  if ('put' in op) return { put: { revision: Number(response?.response_put?.header.revision ?? 0) } };
  if ('get' in op) {
    const kv = response?.response_range?.kvs[0];
    return { get: kv === undefined ? null : toKeyValue(kv) };
  }
  return { delete: { deleted: Number(response?.response_delete_range?.deleted ?? 0) } };
}

function toKeyValue(kv: IKeyValue): KeyValue {
  const lease = kv.lease === undefined || kv.lease === '0' ? undefined : String(kv.lease);
  return {
    key: kv.key.toString(),
    value: kv.value.toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    ...(lease === undefined ? {} : { lease }),
  };
}

/** The smallest key after every key that starts with `prefix` (etcd's range end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  // Every byte is 0xff (or the prefix is empty): the range runs to the end of the keyspace.
  return Buffer.from([0]);
}

function isName(value: string): boolean {
  return /^[A-Za-z0-9._-]{1,128}$/.test(value);
}

function parseInstance(kv: KeyValue): ServiceInstance | undefined {
  try {
    const value = JSON.parse(kv.value) as Partial<ServiceInstance>;
    if (typeof value.url !== 'string') return undefined;
    return {
      id: kv.key.slice(kv.key.lastIndexOf('/') + 1),
      url: value.url,
      ...(typeof value.zone === 'string' ? { zone: value.zone } : {}),
      ...(typeof value.weight === 'number' ? { weight: value.weight } : {}),
      ...(typeof value.meta === 'object' && value.meta !== null ? { meta: value.meta } : {}),
      ...(kv.lease === undefined ? {} : { lease: kv.lease }),
      modRevision: kv.modRevision,
    };
  } catch {
    return undefined;
  }
}
