import type { Command, CommandResult, Compare, KeyValue, TxnOp, WatchEvent } from './commands.js';
import { type Clock, type Consensus, NotLeaderError, systemClock } from './consensus.js';
import type { KvStateMachine } from './kv-state-machine.js';
import { Lessor } from './lessor.js';

/** A refusal the API turns into a 4xx. */
export class CoordinatorError extends Error {
  constructor(
    readonly status: 404 | 408 | 409 | 410 | 400,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'CoordinatorError';
  }
}

export interface CoordinatorOptions {
  /** How often the leader looks for expired leases. */
  readonly leaseCheckIntervalMs: number;
  /** How often the leader advances the compaction revision to where it was one interval earlier. */
  readonly compactionIntervalMs: number;
  /** The history for watches keeps at most this many events (the leader compacts beyond). */
  readonly historyEventsMax?: number;
  /** ...and at most about this many bytes of keys and values. */
  readonly historyBytesMax?: number;
}

export interface ServiceInstance {
  readonly id: string;
  readonly url: string;
  readonly zone?: string;
  readonly weight?: number;
  readonly meta?: Record<string, unknown>;
  readonly lease?: string;
  readonly modRevision: number;
}

export type WatchFilter = { readonly key: string } | { readonly prefix: string };

const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * etcd v3 semantics over a {@link Consensus}: keys, transactions, leases (expired by the leader through the
 * log), locks with fencing tokens, elections, the service registry and watches. Locks and elections are
 * compositions of keys, as in etcd's `concurrency` package: a candidate's key is bound to its lease, and the
 * key with the lowest create revision under the name holds it. The fencing token is that create revision:
 * a later holder always has a larger one, so a resource that remembers the largest token it has seen can
 * refuse a holder that lost its lock without knowing it.
 */
export class Coordinator {
  private readonly lessor = new Lessor();
  private readonly timers: NodeJS.Timeout[] = [];
  private compactionMark = 0;
  private boundingHistory = false;

  constructor(
    readonly state: KvStateMachine,
    private readonly consensus: Consensus,
    private readonly options: CoordinatorOptions,
    private readonly clock: Clock = systemClock,
  ) {
    state.onLeaseChange((change) => this.lessor.onLeaseChange(change, this.clock.now()));
    consensus.onLeadershipChange((leading) => {
      if (leading) this.lessor.promote(this.state.allLeases(), this.clock.now());
      else this.lessor.demote();
    });
    if (consensus.isLeader()) this.lessor.promote(this.state.allLeases(), this.clock.now());
  }

  start(): void {
    this.timers.push(setInterval(() => void this.expireLeases(), this.options.leaseCheckIntervalMs));
    this.timers.push(setInterval(() => void this.compact(), this.options.compactionIntervalMs));
    this.timers.push(setInterval(() => void this.boundHistory(), this.options.leaseCheckIntervalMs));
    for (const t of this.timers) t.unref();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  // --- keys -------------------------------------------------------------------------------------------------

  async put(
    key: string,
    value: string,
    lease?: string,
    prevRevision?: number,
  ): Promise<{ revision: number }> {
    const result = this.expectOk(
      await this.consensus.propose({
        type: 'put',
        key,
        value,
        ...(lease === undefined ? {} : { lease }),
        ...(prevRevision === undefined ? {} : { prevRevision }),
      }),
    );
    return { revision: result.revision };
  }

  async delete(key: string, prevRevision?: number): Promise<{ revision: number; deleted: number }> {
    const result = this.expectOk(
      await this.consensus.propose({
        type: 'delete',
        key,
        ...(prevRevision === undefined ? {} : { prevRevision }),
      }),
    );
    return { revision: result.revision, deleted: 'deleted' in result ? (result.deleted ?? 0) : 0 };
  }

  async txn(compare: readonly Compare[], success: readonly TxnOp[], failure: readonly TxnOp[]) {
    const result = this.expectOk(await this.consensus.propose({ type: 'txn', compare, success, failure }));
    if (!('succeeded' in result)) throw new Error('txn returned no outcome');
    return { succeeded: result.succeeded, revision: result.revision, responses: result.responses };
  }

  /** `linearizable`: wait for ReadIndex first (the default); otherwise answer from this node's state. */
  async get(key: string, linearizable: boolean): Promise<KeyValue | undefined> {
    if (linearizable) await this.consensus.readBarrier();
    return this.state.get(key);
  }

  async range(prefix: string, limit: number, revision: number | undefined, linearizable: boolean) {
    if (linearizable) await this.consensus.readBarrier();
    const result = this.state.range(prefix, limit, revision);
    if (!result.ok) {
      if (result.error === 'compacted') {
        throw new CoordinatorError(410, `revision ${revision} is compacted`, {
          compactRevision: result.compactRevision,
        });
      }
      throw new CoordinatorError(400, `revision ${revision} is in the future`, {
        revision: this.state.currentRevision(),
      });
    }
    return result;
  }

  // --- leases -----------------------------------------------------------------------------------------------

  async grantLease(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    const result = this.expectOk(await this.consensus.propose({ type: 'leaseGrant', ttlSeconds }));
    if (!('lease' in result)) throw new Error('lease grant returned no lease');
    return result.lease;
  }

  /** Leader only (the API forwards): deadlines live in the leader's memory. */
  keepAlive(id: string): { id: string; ttlSeconds: number } {
    this.requireLeader();
    const ttlSeconds = this.lessor.keepAlive(id, this.clock.now());
    if (ttlSeconds === null)
      throw new CoordinatorError(404, `lease ${id} not found (expired or revoked)`, { lease: id });
    return { id, ttlSeconds };
  }

  async revokeLease(id: string): Promise<{ revision: number; deleted: number }> {
    const result = this.expectOk(await this.consensus.propose({ type: 'leaseRevoke', id }));
    return { revision: result.revision, deleted: 'deleted' in result ? (result.deleted ?? 0) : 0 };
  }

  /** Leader only: the remaining time is the leader's view. */
  async leaseInfo(id: string) {
    this.requireLeader();
    await this.consensus.readBarrier();
    const lease = this.state.lease(id);
    const remaining = this.lessor.remainingSeconds(id, this.clock.now());
    if (lease === undefined || remaining === null)
      throw new CoordinatorError(404, `lease ${id} not found`, { lease: id });
    return { id, ttlSeconds: lease.ttlSeconds, remainingSeconds: remaining, keys: lease.keys };
  }

  // --- locks and elections ----------------------------------------------------------------------------------

  /** Waits in FIFO order (create revision) until this lease's key is the oldest under the name. */
  /** Waits in line for `locks/{name}/`; `holder` (an instance name, may be empty) is the lock key's value. */
  async lock(
    name: string,
    lease: string,
    waitMs: number,
    holder = '',
  ): Promise<{ key: string; fencingToken: number }> {
    const { key, createRevision } = await this.enqueue(`locks/${name}/`, lease, holder);
    const acquired = await this.awaitTurn(`locks/${name}/`, key, waitMs);
    if (!acquired) {
      await this.delete(key).catch(() => undefined);
      throw new CoordinatorError(408, `lock ${name} not acquired within ${waitMs} ms`, { waitMs });
    }
    return { key, fencingToken: createRevision };
  }

  async unlock(name: string, key: string): Promise<{ revision: number; released: boolean }> {
    if (!key.startsWith(`locks/${name}/`)) key = `locks/${name}/${key}`;
    const { revision, deleted } = await this.delete(key);
    return { revision, released: deleted > 0 };
  }

  async campaign(
    name: string,
    lease: string,
    value: string,
    waitMs: number,
  ): Promise<{ key: string; term: number }> {
    const { key, createRevision } = await this.enqueue(`elections/${name}/`, lease, value);
    const leading = await this.awaitTurn(`elections/${name}/`, key, waitMs);
    if (!leading) {
      await this.delete(key).catch(() => undefined);
      throw new CoordinatorError(408, `election ${name} not won within ${waitMs} ms`, { waitMs });
    }
    return { key, term: createRevision };
  }

  async electionLeader(name: string, linearizable: boolean) {
    if (linearizable) await this.consensus.readBarrier();
    const first = this.queue(`elections/${name}/`)[0];
    if (first === undefined) throw new CoordinatorError(404, `election ${name} has no leader`);
    return { key: first.key, value: first.value, term: first.createRevision, lease: first.lease };
  }

  async resign(name: string, key: string): Promise<{ revision: number; resigned: boolean }> {
    if (!key.startsWith(`elections/${name}/`)) key = `elections/${name}/${key}`;
    const { revision, deleted } = await this.delete(key);
    return { revision, resigned: deleted > 0 };
  }

  // --- registry ---------------------------------------------------------------------------------------------

  async services(
    service: string,
    linearizable: boolean,
  ): Promise<{ revision: number; instances: ServiceInstance[] }> {
    const { items, revision } = await this.range(`services/${service}/`, NO_LIMIT, undefined, linearizable);
    const instances: ServiceInstance[] = [];
    for (const kv of items) {
      const instance = parseInstance(kv);
      if (instance !== undefined) instances.push(instance);
    }
    return { revision, instances };
  }

  // --- watches ----------------------------------------------------------------------------------------------

  /**
   * Replays history from `fromRevision` (default: only new events), then follows live changes, with no gap
   * and no duplicate between the two: both happen in the same synchronous turn.
   */
  watch(
    filter: WatchFilter,
    fromRevision: number | undefined,
    onEvent: (event: WatchEvent) => void,
  ): () => void {
    const matches =
      'key' in filter ? (k: string) => k === filter.key : (k: string) => k.startsWith(filter.prefix);
    if (fromRevision !== undefined) {
      const replay = this.state.eventsSince(fromRevision, matches);
      if (!replay.ok) {
        throw new CoordinatorError(410, `revision ${fromRevision} is compacted`, {
          compactRevision: replay.compactRevision,
        });
      }
      for (const event of replay.events) onEvent(event);
    }
    // A node behind the revision asked for (a follower still applying what the client saw elsewhere) must not
    // send those older revisions again: live events start at `fromRevision` too.
    const from = fromRevision ?? 0;
    return this.state.onEvents((events) => {
      for (const event of events) if (event.revision >= from && matches(event.kv.key)) onEvent(event);
    });
  }

  // --- internals --------------------------------------------------------------------------------------------

  private async enqueue(prefix: string, lease: string, value: string) {
    const key = `${prefix}${lease}`;
    const result = await this.txn(
      [{ key, target: 'createRevision', op: '=', value: 0 }],
      [{ put: { key, value, lease } }],
      [{ get: { key } }],
    );
    const existing = result.responses[0];
    const createRevision =
      result.succeeded || existing === undefined || !('get' in existing) || existing.get === null
        ? result.revision
        : existing.get.createRevision;
    return { key, createRevision };
  }

  private queue(prefix: string): KeyValue[] {
    const result = this.state.range(prefix, NO_LIMIT);
    if (!result.ok) return [];
    return result.items.sort((a, b) => a.createRevision - b.createRevision);
  }

  /** True once `key` is first in line; false at the deadline. Fails if the key vanished (its lease expired). */
  private awaitTurn(prefix: string, key: string, waitMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let unsubscribe: (() => void) | undefined = undefined;
      let timer: NodeJS.Timeout | undefined = undefined;
      const finish = (outcome: boolean | Error) => {
        unsubscribe?.();
        clearTimeout(timer);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const check = (): boolean => {
        const queue = this.queue(prefix);
        if (!queue.some((kv) => kv.key === key)) {
          finish(new CoordinatorError(404, `${key} no longer exists: its lease expired or it was released`));
          return true;
        }
        if (queue[0]?.key === key) {
          finish(true);
          return true;
        }
        return false;
      };
      if (check()) return;
      unsubscribe = this.state.onEvents((events) => {
        if (events.some((e) => e.type === 'delete' && e.kv.key.startsWith(prefix))) check();
      });
      timer = setTimeout(() => finish(false), waitMs);
    });
  }

  private requireLeader(): void {
    if (!this.consensus.isLeader()) throw new NotLeaderError(this.consensus.leaderId());
  }

  private expectOk(result: CommandResult): Extract<CommandResult, { ok: true }> {
    if (result.ok) return result;
    switch (result.error) {
      case 'conflict':
        throw new CoordinatorError(409, "prevRevision does not match the key's modRevision", {
          modRevision: result.modRevision,
        });
      case 'leaseNotFound':
        throw new CoordinatorError(404, `lease ${result.lease} not found`, { lease: result.lease });
      case 'compacted':
        throw new CoordinatorError(410, 'revision compacted', { compactRevision: result.compactRevision });
      case 'futureRevision':
        throw new CoordinatorError(400, 'revision is in the future', { revision: result.revision });
    }
  }

  private async expireLeases(): Promise<void> {
    if (!this.consensus.isLeader()) return;
    for (const id of this.lessor.expired(this.clock.now())) {
      // Applied through the log so that every node deletes the lease's keys at the same revision.
      const command: Command = { type: 'leaseExpire', id };
      await this.consensus.propose(command).catch(() => undefined);
    }
  }

  /** Bounds the history by count and bytes: compacts (through the log) as far as needed to fit. */
  private async boundHistory(): Promise<void> {
    if (!this.consensus.isLeader() || this.boundingHistory) return;
    const target = this.state.compactionTarget(
      this.options.historyEventsMax ?? Number.MAX_SAFE_INTEGER,
      this.options.historyBytesMax ?? Number.MAX_SAFE_INTEGER,
    );
    if (target <= this.state.compactedRevision()) return;
    this.boundingHistory = true;
    try {
      await this.consensus.propose({ type: 'compact', revision: target }).catch(() => undefined);
    } finally {
      this.boundingHistory = false;
    }
  }

  private async compact(): Promise<void> {
    if (!this.consensus.isLeader()) return;
    const mark = this.compactionMark;
    this.compactionMark = this.state.currentRevision();
    if (mark > this.state.compactedRevision()) {
      await this.consensus.propose({ type: 'compact', revision: mark }).catch(() => undefined);
    }
  }

  /** Test hook: run the periodic work now. */
  async runMaintenance(): Promise<void> {
    await this.expireLeases();
    await this.boundHistory();
  }
}

function parseInstance(kv: KeyValue): ServiceInstance | undefined {
  try {
    const value = JSON.parse(kv.value) as Partial<ServiceInstance>;
    if (typeof value.url !== 'string') return undefined;
    const id = kv.key.slice(kv.key.lastIndexOf('/') + 1);
    return {
      id,
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
