import {
  RaftNode,
  type ProposeResult,
  type RaftConfig,
  type ReadState,
  type Ready,
} from '../core/raft-node.js';
import { Xoshiro128 } from '../core/prng.js';
import { quorumSize } from '../core/conf.js';
import { recoverState, snapshotWitness } from '../driver/recover.js';
import { KvStateMachine } from '../kv/kv-state-machine.js';
import { MemoryDurableLog } from '../memory/memory-durable-log.js';
import { MemorySnapshotStorage } from '../memory/memory-snapshot-storage.js';
import type { StateMachine } from '../ports.js';
import type { ConfState, Entry, Message, NodeId } from '../types.js';
import { Checkers, type NodeView } from './checkers.js';
import { EventQueue } from './event-queue.js';
import { deliveryDelays, type FaultTarget } from './fault-schedule.js';
import { LinkTable, reliableNetwork, type NetworkFaults } from './network.js';

export interface DiskFaults {
  readonly minSyncMs: number;
  readonly maxSyncMs: number;
  /** On a crash, chance that the last surviving un-synced record is torn. */
  readonly tornProbability: number;
}

export interface ClusterOptions {
  readonly seed: number;
  readonly ids: readonly NodeId[];
  /** Members at boot; the rest start empty and join by membership change. Defaults to all. */
  readonly voters?: readonly NodeId[];
  readonly raft?: Partial<Omit<RaftConfig, 'id'>>;
  readonly tickMs?: number;
  readonly network?: NetworkFaults;
  readonly disk?: DiskFaults;
  /** Take a snapshot and compact every N applied entries (0: never). */
  readonly snapshotEveryEntries?: number;
  readonly checkInvariants?: boolean;
  /**
   * Deliberately broken variants, to show that the checkers catch what they exist for.
   * `sendBeforeSync` sends a Ready's messages (votes, acknowledgements) before its writes are durable.
   */
  readonly unsafe?: { readonly sendBeforeSync?: boolean };
}

export const simRaftConfig = {
  electionTimeoutTicks: 15,
  heartbeatIntervalTicks: 5,
  maxInflightAppends: 8,
  maxEntriesPerAppend: 32,
  maxBytesPerAppend: 64 * 1024,
  snapshotChunkBytes: 512,
  preVote: true,
  checkQuorum: true,
} as const;

export interface AppliedEvent {
  readonly node: NodeId;
  readonly entry: Entry;
  readonly result: unknown;
}

/** One simulated server: a core, its disk, its state machine, and where it is in its Ready cycle. */
class SimNode implements NodeView {
  up = false;
  incarnation = 0;
  core: RaftNode | null = null;
  sm: StateMachine & KvStateMachine = new KvStateMachine();
  readonly log = new MemoryDurableLog();
  readonly snapshots = new MemorySnapshotStorage();
  inReady = false;
  processQueued = false;
  /** Every entry this server ever applied, by index (the lab's per-server apply log). */
  readonly appliedData = new Map<number, Entry>();
  lastApplied = 0;

  constructor(readonly id: NodeId) {}

  role(): string {
    return this.core?.status().role ?? 'down';
  }
  term(): number {
    return this.core?.status().term ?? 0;
  }
  termAt(index: number): number | undefined {
    return this.core?.termAt(index);
  }
  snapshotIndex(): number {
    return this.core?.status().snapshotIndex ?? 0;
  }
  commitIndex(): number {
    return this.core?.status().commitIndex ?? 0;
  }
  durablyHolds(index: number, term: number): boolean {
    const snap = this.snapshots.loadSync();
    if (snap && snap.meta.index >= index) return true;
    const entries = this.log.synced().entries;
    const first = entries[0]?.index;
    if (first === undefined) return false;
    return entries[index - first]?.term === term;
  }
}

/**
 * A deterministic cluster on virtual time: one seed decides every delay, loss, timeout and crash.
 * Each node runs the same Ready cycle as the real driver: persist (a write, then a sync that takes
 * virtual time and can be lost to a crash), then send, then apply, then advance.
 */
export class Cluster implements FaultTarget {
  readonly ids: readonly NodeId[];
  readonly random: Xoshiro128;
  readonly links = new LinkTable();
  readonly checkers = new Checkers();
  network: NetworkFaults;
  disk: DiskFaults;
  now = 0;
  messagesSent = 0;
  /** Requests only (the MIT lab counts an RPC and its reply once). */
  requestsSent = 0;
  bytesSent = 0;
  events = 0;
  /** Snapshots received from a leader and installed. */
  snapshotsInstalled = 0;
  private eventsAtInstant = 0;
  private readonly queue = new EventQueue();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly netRandom: Xoshiro128;
  private readonly diskRandom: Xoshiro128;
  private readonly raftConfig: Omit<RaftConfig, 'id'>;
  private readonly tickMs: number;
  private readonly snapshotEvery: number;
  private readonly checkInvariants: boolean;
  private readonly sendBeforeSync: boolean;
  private readonly applyListeners: ((e: AppliedEvent) => void)[] = [];
  private readonly readListeners: ((node: NodeId, rs: ReadState) => void)[] = [];
  private pendingReads: { node: NodeId; context: string; index: number }[] = [];

  constructor(options: ClusterOptions) {
    this.ids = options.ids;
    this.random = new Xoshiro128(options.seed);
    this.netRandom = this.random.fork();
    this.diskRandom = this.random.fork();
    this.raftConfig = { ...simRaftConfig, ...options.raft };
    this.tickMs = options.tickMs ?? 10;
    this.network = options.network ?? reliableNetwork;
    this.disk = options.disk ?? { minSyncMs: 0, maxSyncMs: 2, tornProbability: 0.5 };
    this.snapshotEvery = options.snapshotEveryEntries ?? 0;
    this.checkInvariants = options.checkInvariants ?? true;
    this.sendBeforeSync = options.unsafe?.sendBeforeSync ?? false;
    const voters = options.voters ?? options.ids;
    for (const id of this.ids) {
      const n = new SimNode(id);
      this.nodes.set(id, n);
      if (voters.includes(id)) {
        const boot = RaftNode.bootstrap(voters);
        n.log.write(boot.hardState, boot.entries);
        n.log.sync();
      }
    }
    for (const id of this.ids) this.start(id);
  }

  // ------------------------------------------------------------ time

  /** Runs events until virtual time `now + ms`. */
  runFor(ms: number): void {
    this.runUntilTime(this.now + ms);
  }

  /** Runs until `done()` holds (checked after every event) or `maxMs` pass; returns whether it held. */
  runUntil(done: () => boolean, maxMs: number): boolean {
    const deadline = this.now + maxMs;
    if (done()) return true;
    while (this.queue.size() > 0 && (this.queue.peekTime() ?? Infinity) <= deadline) {
      this.step();
      if (done()) return true;
    }
    this.now = Math.max(this.now, deadline);
    return done();
  }

  private runUntilTime(t: number): void {
    while (this.queue.size() > 0 && (this.queue.peekTime() ?? Infinity) <= t) this.step();
    this.now = Math.max(this.now, t);
  }

  private step(): void {
    const ev = this.queue.pop()!;
    if (ev.at === this.now) {
      // Virtual time must advance: a node that keeps producing work at one instant is livelocked.
      if (++this.eventsAtInstant > 100_000) {
        const detail = this.ids.map((id) => {
          const s = this.status(id);
          return `${id}:${s?.role}/t${s?.term}/c${s?.commitIndex}/a${s?.appliedIndex}/l${s?.lastIndex}/s${s?.snapshotIndex}`;
        });
        throw new Error(`sim: livelock at ${this.now} ms (${detail.join(' ')})`);
      }
    } else this.eventsAtInstant = 0;
    this.now = ev.at;
    ev.run();
    this.events++;
    if (this.checkInvariants) this.checkers.observe([...this.nodes.values()]);
  }

  private at(delayMs: number, run: () => void): void {
    this.queue.push(this.now + delayMs, run);
  }

  /** Schedules a scenario or client action on virtual time. */
  after(delayMs: number, run: () => void): void {
    this.at(delayMs, run);
  }

  /** Schedules work for a node that is skipped if the node crashed in between. */
  private forNode(n: SimNode, delayMs: number, run: () => void): void {
    const inc = n.incarnation;
    this.at(delayMs, () => {
      if (n.up && n.incarnation === inc) run();
    });
  }

  // ------------------------------------------------------------ node lifecycle

  private start(id: NodeId): void {
    const n = this.node(id);
    n.incarnation++;
    n.up = true;
    n.inReady = false;
    n.processQueued = false;
    const snapshot = n.snapshots.loadSync();
    const rec = n.log.current();
    n.core = new RaftNode(
      { ...this.raftConfig, id },
      this.random.fork(),
      recoverState(snapshot, rec.hardState, rec.entries),
    );
    n.sm = new KvStateMachine();
    n.lastApplied = 0;
    if (snapshot) {
      n.sm.restore(snapshot.data);
      n.lastApplied = snapshot.meta.index;
    }
    this.forNode(n, 1 + this.random.int(this.tickMs), () => this.tick(n));
  }

  private tick(n: SimNode): void {
    n.core!.tick();
    this.queueProcess(n);
    this.forNode(n, this.tickMs, () => this.tick(n));
  }

  /** Crash: un-synced writes are partly lost and the last surviving record may be torn. */
  crash(id: NodeId): void {
    const n = this.node(id);
    if (!n.up) return;
    n.up = false;
    n.core = null;
    n.incarnation++;
    n.log.crash(this.diskRandom, this.disk.tornProbability);
    if (this.checkInvariants) this.checkDurability();
  }

  restart(id: NodeId): void {
    const n = this.node(id);
    if (n.up) this.crash(id);
    this.start(id);
  }

  isUp(id: NodeId): boolean {
    return this.node(id).up;
  }

  /** A Ready written and not yet synced: the moment a crash loses the most. */
  isPersisting(id: NodeId): boolean {
    const n = this.node(id);
    return n.up && n.inReady;
  }

  private checkDurability(): void {
    // Configurations that could still elect a leader: the committed one (a leader must hold its entry),
    // and the latest configuration of every live node whose log holds that entry (it may carry a newer,
    // uncommitted one). A node whose log lacks the committed configuration entry cannot win a vote
    // under an older configuration: a quorum of the committed one would refuse its shorter log.
    const committed = this.checkers.committedConf;
    const seen = new Map<string, { voters: SimNode[]; quorum: number }>();
    const consider = (conf: ConfState): void => {
      if (conf.voters.length === 0) return;
      seen.set([...conf.voters].sort().join(','), {
        voters: conf.voters.map((v) => this.node(v)),
        quorum: quorumSize(conf),
      });
    };
    consider(committed.conf);
    for (const n of this.nodes.values()) {
      if (!n.core) continue;
      const holds =
        n.core.status().snapshotIndex >= committed.index || n.core.termAt(committed.index) === committed.term;
      if (holds) consider(n.core.conf());
    }
    const configs = [...seen.values()];
    if (configs.length === 0) return;
    this.checkers.checkDurability(configs, 64);
  }

  // ------------------------------------------------------------ the Ready cycle

  private queueProcess(n: SimNode): void {
    if (n.processQueued) return;
    n.processQueued = true;
    this.forNode(n, 0, () => {
      n.processQueued = false;
      this.process(n);
    });
  }

  private process(n: SimNode): void {
    const core = n.core!;
    if (n.inReady || !core.hasReady()) return;
    const rd = core.ready();
    if (rd.snapshot) {
      // Snapshot first (atomic), then an entry at its index that, by the log's contract, replaces
      // every stored entry from there on: a stale suffix cannot survive the install.
      n.snapshots.saveSync(rd.snapshot);
      n.log.write(null, [snapshotWitness(rd.snapshot)]);
      n.log.writeCompaction(rd.snapshot.meta.index - 1);
    }
    n.log.write(rd.hardState ?? null, rd.entries);
    if (this.checkInvariants && rd.entries.length > 0) {
      this.checkers.onPersist(n.id, rd.entries, (i) => core.termAt(i));
    }
    if (this.sendBeforeSync) for (const m of rd.messages) this.send(m);
    n.inReady = true;
    const needsSync = rd.entries.length > 0 || rd.hardState !== undefined || rd.snapshot !== undefined;
    const delay = needsSync
      ? this.disk.minSyncMs + this.diskRandom.int(this.disk.maxSyncMs - this.disk.minSyncMs + 1)
      : 0;
    this.forNode(n, delay, () => this.complete(n, rd));
  }

  private complete(n: SimNode, rd: Ready): void {
    const core = n.core!;
    n.log.sync();
    if (!this.sendBeforeSync) for (const m of rd.messages) this.send(m);
    if (rd.snapshot) {
      this.snapshotsInstalled++;
      n.sm.restore(rd.snapshot.data);
      n.lastApplied = rd.snapshot.meta.index;
    }
    for (const e of rd.committedEntries) {
      if (e.index !== n.lastApplied + 1)
        throw new Error(`sim: ${n.id} applies ${e.index} after ${n.lastApplied}`);
      const result = n.sm.apply(e);
      n.lastApplied = e.index;
      n.appliedData.set(e.index, e);
      if (this.checkInvariants) this.checkers.onApply(n.id, e);
      for (const l of this.applyListeners) l({ node: n.id, entry: e, result });
    }
    for (const rs of rd.readStates) this.pendingReads.push({ node: n.id, ...rs });
    core.advance();
    n.inReady = false;
    this.serveReads(n);
    if (this.snapshotEvery > 0 && n.lastApplied - core.status().snapshotIndex >= this.snapshotEvery) {
      const snap = core.compact(n.lastApplied, n.sm.snapshot());
      n.snapshots.saveSync(snap);
      n.log.writeCompaction(snap.meta.index - 1);
    }
    this.queueProcess(n);
  }

  private serveReads(n: SimNode): void {
    if (this.pendingReads.length === 0) return;
    const keep: typeof this.pendingReads = [];
    for (const r of this.pendingReads) {
      if (r.node === n.id && (r.index === 0 || r.index <= n.lastApplied)) {
        for (const l of this.readListeners) l(n.id, { context: r.context, index: r.index });
      } else keep.push(r);
    }
    this.pendingReads = keep;
  }

  // ------------------------------------------------------------ network

  private send(m: Message): void {
    this.messagesSent++;
    if (!m.type.endsWith('Resp')) this.requestsSent++;
    this.bytesSent += messageBytes(m);
    for (const delay of deliveryDelays(this.network, this.netRandom)) this.at(delay, () => this.deliver(m));
  }

  private deliver(m: Message): void {
    if (this.links.blocked(m.from, m.to)) return;
    const n = this.nodes.get(m.to);
    if (!n?.up || !n.core) return;
    n.core.step(m);
    this.queueProcess(n);
  }

  /** Cuts a node off from every other (the lab's `disconnect`). */
  disconnect(id: NodeId): void {
    this.labDisconnected.add(id);
    for (const o of this.ids) if (o !== id) this.links.cutBoth(id, o);
  }

  /** Reconnects a node to every node not itself disconnected (the lab's `connect`). */
  connect(id: NodeId): void {
    for (const o of this.ids) {
      if (o === id) continue;
      if (this.isConnectedInLab(o)) this.links.restoreBoth(id, o);
    }
    this.labDisconnected.delete(id);
  }

  private readonly labDisconnected = new Set<NodeId>();

  private isConnectedInLab(id: NodeId): boolean {
    return !this.labDisconnected.has(id);
  }

  // ------------------------------------------------------------ clients

  propose(id: NodeId, data: Uint8Array): ProposeResult {
    const n = this.node(id);
    if (!n.up || !n.core) return { ok: false, error: { kind: 'notLeader', leaderHint: null } };
    const r = n.core.propose(data);
    this.queueProcess(n);
    return r;
  }

  readIndex(id: NodeId, context: string): boolean {
    const n = this.node(id);
    if (!n.up || !n.core) return false;
    const r = n.core.readIndex(context);
    this.queueProcess(n);
    return r.ok;
  }

  /** Runs `fn` against a node's core (conf changes, transfers) and lets it produce a Ready. */
  withCore<T>(id: NodeId, fn: (core: RaftNode) => T): T | undefined {
    const n = this.node(id);
    if (!n.up || !n.core) return undefined;
    const out = fn(n.core);
    this.queueProcess(n);
    return out;
  }

  onApply(listener: (e: AppliedEvent) => void): void {
    this.applyListeners.push(listener);
  }

  onRead(listener: (node: NodeId, rs: ReadState) => void): void {
    this.readListeners.push(listener);
  }

  kvGet(id: NodeId, key: string): string | null {
    return this.node(id).sm.get(key);
  }

  // ------------------------------------------------------------ queries

  status(id: NodeId): ReturnType<RaftNode['status']> | null {
    return this.node(id).core?.status() ?? null;
  }

  someLeader(): NodeId | undefined {
    return this.leaders()[0]?.id;
  }

  /** Up nodes that believe they lead, with their terms. */
  leaders(): { id: NodeId; term: number }[] {
    const out: { id: NodeId; term: number }[] = [];
    for (const n of this.nodes.values()) {
      const s = n.core?.status();
      if (n.up && s?.role === 'leader') out.push({ id: n.id, term: s.term });
    }
    return out;
  }

  appliedAt(id: NodeId, index: number): Entry | undefined {
    return this.node(id).appliedData.get(index);
  }

  lastApplied(id: NodeId): number {
    return this.node(id).lastApplied;
  }

  diskSyncs(id: NodeId): number {
    return this.node(id).log.syncs;
  }

  private node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`sim: unknown node ${id}`);
    return n;
  }
}

/** Payload bytes of a message, for the lab's byte-count test. */
export function messageBytes(m: Message): number {
  switch (m.type) {
    case 'append':
      return 32 + m.entries.reduce((s, e) => s + 24 + e.data.byteLength, 0);
    case 'snapshot':
      return 64 + m.chunk.byteLength;
    default:
      return 32;
  }
}
