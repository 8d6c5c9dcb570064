import type { Entry, StateMachine } from '@concord/raft';
import type {
  Command,
  CommandResult,
  Compare,
  KeyValue,
  TxnOp,
  TxnResponse,
  WatchEvent,
} from './commands.js';

interface Lease {
  readonly id: string;
  readonly ttlSeconds: number;
  readonly keys: Set<string>;
}

/** A watch event with what it replaced, so that reads at a past revision can undo it. */
interface HistoryEvent extends WatchEvent {
  readonly prev: KeyValue | null;
}

interface SnapshotState {
  readonly revision: number;
  readonly compactRevision: number;
  readonly nextLease: number;
  readonly keys: KeyValue[];
  readonly leases: { id: string; ttlSeconds: number }[];
  readonly history: HistoryEvent[];
  readonly members: [string, string][];
}

/**
 * `lines-2`: as `lines-1` (one JSON line per record), but a key-value record written once: its later uses (the
 * `prev` of the next event on that key, the current value in the key table) are its number instead, 1 for the first
 * record written. History events share their records in memory, so this halves a snapshot under steady puts.
 */
const SNAPSHOT_FORMAT = 'concord-kv/lines-2';
const SNAPSHOT_FORMAT_UNSHARED = 'concord-kv/lines-1';
/** Fixed per-event overhead counted on top of key and value lengths (object, revision, numbers). */
const EVENT_OVERHEAD_BYTES = 96;
const eventBytes = (e: HistoryEvent): number =>
  EVENT_OVERHEAD_BYTES + 2 * e.kv.key.length + e.kv.value.length + (e.prev?.value.length ?? 0);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(command: Command): Uint8Array {
  return encoder.encode(JSON.stringify(command));
}

/**
 * The coordinator's state: keys with a global revision (etcd v3 semantics), leases, and the history of changes
 * back to the compaction revision, for watches and reads at a past revision.
 *
 * Deterministic: the result of `apply` depends only on the state and the entry. Lease ids come from a counter,
 * never from the clock; expiry is decided by the leader outside and applied here as a `leaseExpire` command.
 */
export class KvStateMachine implements StateMachine<CommandResult | null> {
  private revision = 0;
  private compactRevision = 0;
  private nextLease = 1;
  private readonly keys = new Map<string, KeyValue>();
  private readonly leases = new Map<string, Lease>();
  private history: HistoryEvent[] = [];
  /** Approximate bytes the history holds (keys and values, old and new, plus a fixed overhead per event). */
  private historyBytes = 0;
  private readonly members = new Map<string, string>();
  private readonly listeners = new Set<(events: readonly WatchEvent[]) => void>();
  private readonly leaseListeners = new Set<(change: { id: string; ttlSeconds: number | null }) => void>();

  /** Called with the events of each applied revision, in order. */
  onEvents(listener: (events: readonly WatchEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when a lease is granted (ttl) or removed (null). The lessor on the leader tracks deadlines. */
  onLeaseChange(listener: (change: { id: string; ttlSeconds: number | null }) => void): () => void {
    this.leaseListeners.add(listener);
    return () => this.leaseListeners.delete(listener);
  }

  apply(entry: Entry): CommandResult | null {
    if (entry.type !== 'normal' || entry.data.length === 0) return null;
    let command: Command;
    try {
      command = JSON.parse(decoder.decode(entry.data)) as Command;
    } catch {
      // A malformed entry cannot come from this service's own proposals; skipping it keeps every node identical.
      return null;
    }
    return this.execute(command);
  }

  execute(command: Command): CommandResult | null {
    switch (command.type) {
      case 'put':
        return this.put(command.key, command.value, command.lease, command.prevRevision);
      case 'delete':
        return this.remove(command.key, command.prevRevision);
      case 'txn':
        return this.txn(command.compare, command.success, command.failure);
      case 'leaseGrant':
        return this.grant(command.ttlSeconds);
      case 'leaseRevoke':
      case 'leaseExpire':
        return this.revoke(command.id, command.type === 'leaseExpire');
      case 'compact':
        return this.compact(command.revision);
      case 'memberMeta':
        if (command.apiUrl === null) this.members.delete(command.id);
        else this.members.set(command.id, command.apiUrl);
        return { ok: true, revision: this.revision };
      default:
        return null;
    }
  }

  // --- reads (local; the API makes them linearizable with ReadIndex first) ---------------------------------

  currentRevision(): number {
    return this.revision;
  }

  compactedRevision(): number {
    return this.compactRevision;
  }

  get(key: string): KeyValue | undefined {
    return this.keys.get(key);
  }

  /** Keys with the prefix, in key order, as of `atRevision` (default: now). */
  range(
    prefix: string,
    limit: number,
    atRevision?: number,
  ):
    { ok: true; items: KeyValue[]; more: boolean; revision: number } | Extract<CommandResult, { ok: false }> {
    const at = atRevision ?? this.revision;
    if (at > this.revision) return { ok: false, error: 'futureRevision', revision: this.revision };
    if (at < this.compactRevision)
      return { ok: false, error: 'compacted', compactRevision: this.compactRevision };
    const view = new Map<string, KeyValue>();
    for (const [key, kv] of this.keys) if (key.startsWith(prefix)) view.set(key, kv);
    // Undo the changes made after `at`, newest first.
    for (let i = this.history.length - 1; i >= 0; i--) {
      const event = this.history[i];
      if (event === undefined || event.revision <= at) break;
      if (!event.kv.key.startsWith(prefix)) continue;
      if (event.prev === null) view.delete(event.kv.key);
      else view.set(event.kv.key, event.prev);
    }
    const sorted = [...view.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { ok: true, items: sorted.slice(0, limit), more: sorted.length > limit, revision: at };
  }

  /** Events after `fromRevision - 1` matching the filter: what a watch starting at `fromRevision` must replay. */
  eventsSince(
    fromRevision: number,
    matches: (key: string) => boolean,
  ): { ok: true; events: WatchEvent[] } | { ok: false; compactRevision: number } {
    if (fromRevision <= this.compactRevision && fromRevision <= this.revision) {
      return { ok: false, compactRevision: this.compactRevision };
    }
    const events: WatchEvent[] = [];
    for (const event of this.history) {
      if (event.revision >= fromRevision && matches(event.kv.key)) {
        events.push({ type: event.type, kv: event.kv, revision: event.revision });
      }
    }
    return { ok: true, events };
  }

  lease(id: string): { id: string; ttlSeconds: number; keys: string[] } | undefined {
    const lease = this.leases.get(id);
    return lease && { id: lease.id, ttlSeconds: lease.ttlSeconds, keys: [...lease.keys].sort() };
  }

  allLeases(): { id: string; ttlSeconds: number }[] {
    return [...this.leases.values()].map((l) => ({ id: l.id, ttlSeconds: l.ttlSeconds }));
  }

  /** Size of the history kept for watches and past reads: the leader compacts when it passes its bounds. */
  historySize(): { readonly events: number; readonly bytes: number } {
    return { events: this.history.length, bytes: this.historyBytes };
  }

  /**
   * The smallest revision to compact to so that the history holds at most `events` events and `bytes` bytes
   * (0: already within bounds). Events of one revision go together.
   */
  compactionTarget(events: number, bytes: number): number {
    let i = 0;
    let n = this.history.length;
    let b = this.historyBytes;
    let target = 0;
    while (i < this.history.length && (n > events || b > bytes)) {
      const revision = this.history[i]!.revision;
      while (i < this.history.length && this.history[i]!.revision === revision) {
        b -= eventBytes(this.history[i]!);
        n--;
        i++;
      }
      target = revision;
    }
    return target;
  }

  memberApiUrls(): ReadonlyMap<string, string> {
    return this.members;
  }

  // --- snapshot ---------------------------------------------------------------------------------------------

  /**
   * One JSON line per record (a header, then each key, lease, history event and member), encoded line by line
   * into a list of buffers: no single string holds the whole state, so a large state (many 1 MiB values) never
   * meets V8's string length limit. Restored line by line the same way.
   */
  snapshot(): Uint8Array {
    const lines = new SnapshotLines();
    for (const record of snapshotRecords(this.capture())) lines.add(record);
    return lines.bytes();
  }

  /**
   * The state as of now, captured in O(keys + history) reference copies (records are immutable: a write makes a
   * new one), and encoded later in slices that yield to the event loop: the same bytes {@link snapshot} would
   * have returned now, without stopping the node for the whole encoding (100,000 history events took hundreds of
   * milliseconds, during which the node served nothing: the put@256 p99 of `bench:coordinator`).
   */
  captureSnapshot(): () => Promise<Uint8Array> {
    const state = this.capture();
    return async () => {
      const lines = new SnapshotLines();
      let count = 0;
      for (const record of snapshotRecords(state)) {
        lines.add(record);
        if (++count % SNAPSHOT_RECORDS_PER_SLICE === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      return lines.bytes();
    };
  }

  private capture(): SnapshotState {
    return {
      revision: this.revision,
      compactRevision: this.compactRevision,
      nextLease: this.nextLease,
      keys: [...this.keys.values()],
      leases: [...this.leases.values()].map((l) => ({ id: l.id, ttlSeconds: l.ttlSeconds })),
      history: this.history.slice(),
      members: [...this.members],
    };
  }

  restore(data: Uint8Array): void {
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    let start = 0;
    let end = bytes.indexOf(10, start);
    const next = (): unknown => {
      if (end < 0) return undefined;
      const record = JSON.parse(bytes.toString('utf8', start, end)) as unknown;
      start = end + 1;
      end = bytes.indexOf(10, start);
      return record;
    };
    if (bytes[0] !== 0x7b /* { */ || !bytes.subarray(0, 32).toString().includes('"format"')) {
      // A snapshot from before the line format: one JSON document.
      this.restoreState(JSON.parse(decoder.decode(data)) as SnapshotState);
      return;
    }
    const header = next() as { format: string; revision: number; compactRevision: number; nextLease: number };
    if (header.format !== SNAPSHOT_FORMAT && header.format !== SNAPSHOT_FORMAT_UNSHARED) {
      throw new Error(`unknown snapshot format ${JSON.stringify(header.format)}`);
    }
    const state: SnapshotState = {
      revision: header.revision,
      compactRevision: header.compactRevision,
      nextLease: header.nextLease,
      keys: [],
      leases: [],
      history: [],
      members: [],
    };
    // lines-2: a record seen before is its number (1-based, in order of first appearance). lines-1 has none.
    const written: KeyValue[] = [];
    const record = (value: KeyValue | number): KeyValue => {
      if (typeof value !== 'number') {
        written.push(value);
        return value;
      }
      const kv = written[value - 1];
      if (kv === undefined) throw new Error(`snapshot refers to record ${value} before it was written`);
      return kv;
    };
    for (let line = next(); line !== undefined; line = next()) {
      const [tag, value] = line as [string, never];
      if (tag === 'k') state.keys.push(record(value));
      else if (tag === 'l') state.leases.push(value);
      else if (tag === 'h') {
        const event = value as Omit<HistoryEvent, 'kv' | 'prev'> & {
          kv: KeyValue | number;
          prev: KeyValue | number | null;
        };
        const kv = record(event.kv);
        const prev = event.prev === null ? null : record(event.prev);
        state.history.push({ ...event, kv, prev });
      } else if (tag === 'm') state.members.push(value);
    }
    this.restoreState(state);
  }

  private restoreState(state: SnapshotState): void {
    this.revision = state.revision;
    this.compactRevision = state.compactRevision;
    this.nextLease = state.nextLease;
    this.keys.clear();
    this.leases.clear();
    for (const l of state.leases)
      this.leases.set(l.id, { id: l.id, ttlSeconds: l.ttlSeconds, keys: new Set() });
    for (const kv of state.keys) {
      this.keys.set(kv.key, kv);
      if (kv.lease !== undefined) this.leases.get(kv.lease)?.keys.add(kv.key);
    }
    this.history = state.history;
    this.historyBytes = state.history.reduce((sum, e) => sum + eventBytes(e), 0);
    this.members.clear();
    for (const [id, url] of state.members) this.members.set(id, url);
    for (const l of state.leases) this.emitLease({ id: l.id, ttlSeconds: l.ttlSeconds });
  }

  // --- commands ---------------------------------------------------------------------------------------------

  private put(
    key: string,
    value: string,
    lease: string | undefined,
    prevRevision: number | undefined,
  ): CommandResult {
    const current = this.keys.get(key);
    if (prevRevision !== undefined && (current?.modRevision ?? 0) !== prevRevision) {
      return { ok: false, error: 'conflict', modRevision: current?.modRevision ?? 0 };
    }
    if (lease !== undefined && !this.leases.has(lease)) return { ok: false, error: 'leaseNotFound', lease };
    const revision = this.revision + 1;
    this.writeKey(key, value, lease, revision);
    this.commitRevision(revision);
    return { ok: true, revision, prevKv: current ?? null };
  }

  private remove(key: string, prevRevision: number | undefined): CommandResult {
    const current = this.keys.get(key);
    if (prevRevision !== undefined && (current?.modRevision ?? 0) !== prevRevision) {
      return { ok: false, error: 'conflict', modRevision: current?.modRevision ?? 0 };
    }
    if (current === undefined) return { ok: true, revision: this.revision, deleted: 0, prevKv: null };
    const revision = this.revision + 1;
    this.deleteKey(key, revision);
    this.commitRevision(revision);
    return { ok: true, revision, deleted: 1, prevKv: current };
  }

  private txn(
    compare: readonly Compare[],
    success: readonly TxnOp[],
    failure: readonly TxnOp[],
  ): CommandResult {
    const succeeded = compare.every((c) => this.compareHolds(c));
    const ops = succeeded ? success : failure;
    for (const op of ops) {
      if ('put' in op && op.put.lease !== undefined && !this.leases.has(op.put.lease)) {
        return { ok: false, error: 'leaseNotFound', lease: op.put.lease };
      }
    }
    // All writes of one transaction share one revision, as in etcd.
    const writes = ops.some((op) => 'put' in op || ('delete' in op && this.keys.has(op.delete.key)));
    const revision = writes ? this.revision + 1 : this.revision;
    const responses: TxnResponse[] = [];
    for (const op of ops) {
      if ('get' in op) {
        responses.push({ get: this.keys.get(op.get.key) ?? null });
      } else if ('put' in op) {
        this.writeKey(op.put.key, op.put.value, op.put.lease, revision);
        responses.push({ put: { revision } });
      } else {
        const existed = this.keys.has(op.delete.key);
        if (existed) this.deleteKey(op.delete.key, revision);
        responses.push({ delete: { deleted: existed ? 1 : 0 } });
      }
    }
    if (writes) this.commitRevision(revision);
    return { ok: true, revision: this.revision, succeeded, responses };
  }

  private compareHolds(c: Compare): boolean {
    const kv = this.keys.get(c.key);
    let actual: string | number;
    switch (c.target) {
      case 'value':
        // A missing key has no value: only "!=" holds against it.
        if (kv === undefined) return c.op === '!=';
        actual = kv.value;
        break;
      case 'version':
        actual = kv?.version ?? 0;
        break;
      case 'modRevision':
        actual = kv?.modRevision ?? 0;
        break;
      case 'createRevision':
        actual = kv?.createRevision ?? 0;
        break;
    }
    const expected = typeof actual === 'number' ? Number(c.value) : String(c.value);
    switch (c.op) {
      case '=':
        return actual === expected;
      case '!=':
        return actual !== expected;
      case '<':
        return actual < expected;
      case '>':
        return actual > expected;
    }
  }

  private grant(ttlSeconds: number): CommandResult {
    const id = (this.nextLease++).toString(16).padStart(16, '0');
    this.leases.set(id, { id, ttlSeconds, keys: new Set() });
    this.emitLease({ id, ttlSeconds });
    return { ok: true, revision: this.revision, lease: { id, ttlSeconds } };
  }

  private revoke(id: string, expiring: boolean): CommandResult {
    const lease = this.leases.get(id);
    if (lease === undefined) {
      return expiring
        ? { ok: true, revision: this.revision, deleted: 0 }
        : { ok: false, error: 'leaseNotFound', lease: id };
    }
    const keys = [...lease.keys].sort();
    let revision = this.revision;
    if (keys.length > 0) {
      revision = this.revision + 1;
      for (const key of keys) this.deleteKey(key, revision);
      this.commitRevision(revision);
    }
    this.leases.delete(id);
    this.emitLease({ id, ttlSeconds: null });
    return { ok: true, revision, deleted: keys.length };
  }

  private compact(revision: number): CommandResult {
    if (revision > this.revision) return { ok: false, error: 'futureRevision', revision: this.revision };
    if (revision <= this.compactRevision) return { ok: true, revision: this.revision };
    this.compactRevision = revision;
    let drop = 0;
    while (drop < this.history.length && this.history[drop]!.revision <= revision) {
      this.historyBytes -= eventBytes(this.history[drop]!);
      drop++;
    }
    this.history = this.history.slice(drop);
    return { ok: true, revision: this.revision };
  }

  // --- mutation primitives: one revision may hold several events (a transaction, a lease revocation) --------

  private pending: HistoryEvent[] = [];

  private writeKey(key: string, value: string, lease: string | undefined, revision: number): void {
    const current = this.keys.get(key);
    if (current?.lease !== undefined && current.lease !== lease)
      this.leases.get(current.lease)?.keys.delete(key);
    const kv: KeyValue = {
      key,
      value,
      createRevision: current?.createRevision ?? revision,
      modRevision: revision,
      version: (current?.version ?? 0) + 1,
      ...(lease === undefined ? {} : { lease }),
    };
    this.keys.set(key, kv);
    if (lease !== undefined) this.leases.get(lease)?.keys.add(key);
    this.pending.push({ type: 'put', kv, revision, prev: current ?? null });
  }

  private deleteKey(key: string, revision: number): void {
    const current = this.keys.get(key);
    if (current === undefined) return;
    this.keys.delete(key);
    if (current.lease !== undefined) this.leases.get(current.lease)?.keys.delete(key);
    const tombstone: KeyValue = { key, value: '', createRevision: 0, modRevision: revision, version: 0 };
    this.pending.push({ type: 'delete', kv: tombstone, revision, prev: current });
  }

  private commitRevision(revision: number): void {
    this.revision = revision;
    const events = this.pending;
    this.pending = [];
    for (const event of events) {
      this.history.push(event);
      this.historyBytes += eventBytes(event);
    }
    const visible = events.map(({ type, kv, revision: r }) => ({ type, kv, revision: r }));
    for (const listener of this.listeners) listener(visible);
  }

  private emitLease(change: { id: string; ttlSeconds: number | null }): void {
    for (const listener of this.leaseListeners) listener(change);
  }
}

/** Records encoded per slice of {@link KvStateMachine.captureSnapshot} before it yields to the event loop. */
const SNAPSHOT_RECORDS_PER_SLICE = 2_000;
/** Characters of snapshot lines gathered before they become one buffer (see SnapshotLines). */
const SNAPSHOT_CHUNK_CHARS = 1 << 20;

function* snapshotRecords(state: SnapshotState): Generator<unknown> {
  yield {
    format: SNAPSHOT_FORMAT,
    revision: state.revision,
    compactRevision: state.compactRevision,
    nextLease: state.nextLease,
  };
  // Each key-value record once; a later use is its number (see SNAPSHOT_FORMAT).
  const numbers = new Map<KeyValue, number>();
  const record = (kv: KeyValue): KeyValue | number => {
    const seen = numbers.get(kv);
    if (seen !== undefined) return seen;
    numbers.set(kv, numbers.size + 1);
    return kv;
  };
  for (const kv of state.keys) yield ['k', record(kv)];
  for (const lease of state.leases) yield ['l', lease];
  for (const event of state.history) {
    // Field by field, in a fixed order: the same bytes for the same state, whatever the event object holds.
    const kv = record(event.kv);
    yield [
      'h',
      {
        type: event.type,
        kv,
        revision: event.revision,
        prev: event.prev === null ? null : record(event.prev),
      },
    ];
  }
  for (const member of state.members) yield ['m', member];
}

/**
 * The snapshot's lines, gathered into strings of about {@link SNAPSHOT_CHUNK_CHARS} characters, each turned into
 * one buffer (one allocation per chunk, not per record): no single string holds the whole state.
 */
class SnapshotLines {
  private readonly chunks: Buffer[] = [];
  private pending = '';

  add(record: unknown): void {
    this.pending += `${JSON.stringify(record)}\n`;
    if (this.pending.length >= SNAPSHOT_CHUNK_CHARS) this.flush();
  }

  bytes(): Uint8Array {
    this.flush();
    return Buffer.concat(this.chunks);
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.chunks.push(Buffer.from(this.pending));
    this.pending = '';
  }
}
