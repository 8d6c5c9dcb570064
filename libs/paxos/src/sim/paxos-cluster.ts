import {
  deliveryDelays,
  EventQueue,
  KvStateMachine,
  LinkTable,
  reliableNetwork,
  Xoshiro128,
  type FaultTarget,
  type KvResult,
  type NetworkFaults,
  type NodeId,
} from '@concord/raft';
import type { Value } from '../ballot.js';
import { defaultPaxosConfig, PaxosNode, type PaxosConfig } from '../multi/paxos-node.js';
import type { PaxosMessage, PaxosProposeResult, PaxosReady, PaxosStatus } from '../multi/types.js';
import { MemoryAcceptorStore } from './acceptor-store.js';
import { commandTag } from './kv-clients.js';
import { PaxosCheckers } from './checkers.js';

export interface PaxosClusterOptions {
  readonly seed: number;
  readonly ids: readonly NodeId[];
  readonly paxos?: Partial<Omit<PaxosConfig, 'id' | 'members'>>;
  readonly tickMs?: number;
  readonly network?: NetworkFaults;
  readonly disk?: { readonly minSyncMs: number; readonly maxSyncMs: number };
  readonly checkInvariants?: boolean;
  /** Break persist-before-send on purpose (to show the checkers catch it). */
  readonly unsafe?: { readonly sendBeforeSync?: boolean };
}

export interface PaxosAppliedEvent {
  readonly node: NodeId;
  readonly slot: number;
  readonly value: Value;
  readonly result: KvResult;
}

class SimPaxosNode {
  up = false;
  incarnation = 0;
  core: PaxosNode | null = null;
  sm = new KvStateMachine();
  readonly store = new MemoryAcceptorStore();
  inReady = false;
  processQueued = false;
  lastApplied = 0;
  appliedTags = new Set<string>();
  constructor(readonly id: NodeId) {}
}

/**
 * Multi-Paxos on the Raft simulator's virtual time, network and fault model (the event queue, link table,
 * per-message loss, duplication and delay, and the shared fault schedule come from `@concord/raft`): one seed
 * decides everything. Each node runs the Ready cycle: persist (a sync that takes virtual time and is lost, in
 * part, to a crash), then send, then apply, then advance.
 */
export class PaxosCluster implements FaultTarget {
  readonly ids: readonly NodeId[];
  readonly links = new LinkTable();
  readonly checkers: PaxosCheckers;
  network: NetworkFaults;
  now = 0;
  events = 0;
  messagesSent = 0;
  private eventsAtInstant = 0;
  private readonly random: Xoshiro128;
  private readonly netRandom: Xoshiro128;
  private readonly diskRandom: Xoshiro128;
  private readonly queue = new EventQueue();
  private readonly nodes = new Map<NodeId, SimPaxosNode>();
  private readonly config: Omit<PaxosConfig, 'id'>;
  private readonly tickMs: number;
  private readonly disk: { minSyncMs: number; maxSyncMs: number };
  private readonly checkInvariants: boolean;
  private readonly sendBeforeSync: boolean;
  private readonly applyListeners: ((e: PaxosAppliedEvent) => void)[] = [];
  private readonly sendListeners: ((m: PaxosMessage, now: number) => void)[] = [];

  constructor(options: PaxosClusterOptions) {
    this.ids = options.ids;
    this.random = new Xoshiro128(options.seed);
    this.netRandom = this.random.fork();
    this.diskRandom = this.random.fork();
    this.config = { ...defaultPaxosConfig, ...options.paxos, members: options.ids };
    this.tickMs = options.tickMs ?? 10;
    this.network = options.network ?? reliableNetwork;
    this.disk = options.disk ?? { minSyncMs: 0, maxSyncMs: 2 };
    this.checkInvariants = options.checkInvariants ?? true;
    this.sendBeforeSync = options.unsafe?.sendBeforeSync ?? false;
    this.checkers = new PaxosCheckers(options.ids.length);
    for (const id of this.ids) this.nodes.set(id, new SimPaxosNode(id));
    for (const id of this.ids) this.start(id);
  }

  // ------------------------------------------------------------ time

  runFor(ms: number): void {
    const t = this.now + ms;
    while (this.queue.size() > 0 && (this.queue.peekTime() ?? Infinity) <= t) this.step();
    this.now = Math.max(this.now, t);
  }

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

  after(delayMs: number, run: () => void): void {
    this.queue.push(this.now + delayMs, run);
  }

  private step(): void {
    const ev = this.queue.pop()!;
    if (ev.at === this.now) {
      if (++this.eventsAtInstant > 100_000) throw new Error(`sim: livelock at ${this.now} ms`);
    } else this.eventsAtInstant = 0;
    this.now = ev.at;
    ev.run();
    this.events++;
    if (this.checkInvariants)
      for (const n of this.nodes.values())
        if (n.core) this.checkers.observePromise(n.id, n.core.status().promised);
  }

  private forNode(n: SimPaxosNode, delayMs: number, run: () => void): void {
    const inc = n.incarnation;
    this.after(delayMs, () => {
      if (n.up && n.incarnation === inc) run();
    });
  }

  // ------------------------------------------------------------ lifecycle

  private start(id: NodeId): void {
    const n = this.node(id);
    n.incarnation++;
    n.up = true;
    n.inReady = false;
    n.processQueued = false;
    const durable = n.store.recover();
    // A write that was still syncing when the node crashed may have survived: its acceptances count.
    if (this.checkInvariants)
      for (const [slot, a] of durable.accepted) this.checkers.onDurableAccept(id, slot, a.ballot, a.value);
    n.core = new PaxosNode({ ...this.config, id }, this.random.fork(), durable);
    n.sm = new KvStateMachine();
    n.appliedTags = new Set();
    n.lastApplied = 0;
    this.forNode(n, 1 + this.random.int(this.tickMs), () => this.tick(n));
  }

  private tick(n: SimPaxosNode): void {
    n.core!.tick();
    this.queueProcess(n);
    this.forNode(n, this.tickMs, () => this.tick(n));
  }

  crash(id: NodeId): void {
    const n = this.node(id);
    if (!n.up) return;
    n.up = false;
    n.core = null;
    n.incarnation++;
    n.store.crash(this.diskRandom);
  }

  restart(id: NodeId): void {
    if (this.node(id).up) this.crash(id);
    this.start(id);
  }

  isUp(id: NodeId): boolean {
    return this.node(id).up;
  }

  isPersisting(id: NodeId): boolean {
    const n = this.node(id);
    return n.up && n.inReady;
  }

  someLeader(): NodeId | undefined {
    return this.leaders()[0]?.id;
  }

  // ------------------------------------------------------------ Ready cycle

  private queueProcess(n: SimPaxosNode): void {
    if (n.processQueued) return;
    n.processQueued = true;
    this.forNode(n, 0, () => {
      n.processQueued = false;
      this.process(n);
    });
  }

  private process(n: SimPaxosNode): void {
    const core = n.core!;
    if (n.inReady || !core.hasReady()) return;
    const rd = core.ready();
    if (rd.write) n.store.write(rd.write);
    if (this.sendBeforeSync) for (const m of rd.messages) this.send(m);
    n.inReady = true;
    const delay = rd.write
      ? this.disk.minSyncMs + this.diskRandom.int(this.disk.maxSyncMs - this.disk.minSyncMs + 1)
      : 0;
    this.forNode(n, delay, () => this.complete(n, rd));
  }

  private complete(n: SimPaxosNode, rd: PaxosReady): void {
    n.store.sync();
    if (rd.write && this.checkInvariants)
      for (const a of rd.write.accepted) this.checkers.onDurableAccept(n.id, a.slot, a.ballot, a.value);
    if (!this.sendBeforeSync) for (const m of rd.messages) this.send(m);
    for (const c of rd.chosen) {
      if (c.slot !== n.lastApplied + 1)
        throw new Error(`sim: ${n.id} applies ${c.slot} after ${n.lastApplied}`);
      if (this.checkInvariants) this.checkers.onLearn(n.id, c.slot, c.value);
      n.lastApplied = c.slot;
      // A command chosen twice (a preempted proposer of classic Paxos tried it again) is applied once.
      const tag = c.value === null ? undefined : commandTag(c.value);
      if (c.value === null || (tag !== undefined && n.appliedTags.has(tag))) continue;
      if (tag !== undefined) n.appliedTags.add(tag);
      const result = n.sm.apply({ index: c.slot, term: 0, type: 'normal', data: c.value });
      for (const l of this.applyListeners) l({ node: n.id, slot: c.slot, value: c.value, result });
    }
    n.core!.advance(rd);
    n.inReady = false;
    this.queueProcess(n);
  }

  // ------------------------------------------------------------ network

  private send(m: PaxosMessage): void {
    this.messagesSent++;
    if (this.checkInvariants) {
      if (m.type === 'promise' || m.type === 'accepted') this.checkers.onPromiseShown(m.from, m.ballot);
      else if (m.type === 'nack') this.checkers.onPromiseShown(m.from, m.promised);
    }
    for (const l of this.sendListeners) l(m, this.now);
    for (const delay of deliveryDelays(this.network, this.netRandom))
      this.after(delay, () => this.deliver(m));
  }

  private deliver(m: PaxosMessage): void {
    if (this.links.blocked(m.from, m.to)) return;
    const n = this.nodes.get(m.to);
    if (!n?.up || !n.core) return;
    n.core.step(m);
    this.queueProcess(n);
  }

  // ------------------------------------------------------------ clients

  propose(id: NodeId, data: Uint8Array): PaxosProposeResult {
    const n = this.node(id);
    if (!n.up || !n.core) return { ok: false, leaderHint: null };
    const r = n.core.propose(data);
    this.queueProcess(n);
    return r;
  }

  campaign(id: NodeId): boolean {
    const n = this.node(id);
    if (!n.up || !n.core) return false;
    n.core.campaign();
    this.queueProcess(n);
    return true;
  }

  onApply(listener: (e: PaxosAppliedEvent) => void): void {
    this.applyListeners.push(listener);
  }

  onSend(listener: (m: PaxosMessage, now: number) => void): void {
    this.sendListeners.push(listener);
  }

  // ------------------------------------------------------------ queries

  status(id: NodeId): PaxosStatus | null {
    return this.node(id).core?.status() ?? null;
  }

  leaders(): { id: NodeId; round: number }[] {
    const out: { id: NodeId; round: number }[] = [];
    for (const n of this.nodes.values()) {
      const s = n.core?.status();
      if (n.up && s?.role === 'leader') out.push({ id: n.id, round: s.ballot.round });
    }
    return out.sort((a, b) => b.round - a.round);
  }

  lastApplied(id: NodeId): number {
    return this.node(id).lastApplied;
  }

  kvGet(id: NodeId, key: string): string | null {
    return this.node(id).sm.get(key);
  }

  diskSyncs(): number {
    let s = 0;
    for (const n of this.nodes.values()) s += n.store.syncs;
    return s;
  }

  private node(id: NodeId): SimPaxosNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`sim: unknown node ${id}`);
    return n;
  }
}
