import { randomInt } from 'node:crypto';
import { decodeConfEntry } from '../core/conf.js';
import { Xoshiro128, type Random } from '../core/prng.js';
import { RaftNode, type RaftConfig, type RaftError, type RaftStatus, type Ready } from '../core/raft-node.js';
import type { DurableLog, SnapshotStorage, StateMachine, Transport } from '../ports.js';
import type { ConfChange, Entry, Message, NodeId, ProposeRequest, ProposeResponse } from '../types.js';
import { ProposalForwarder } from './proposal-forwarder.js';
import { recoverState, snapshotWitness } from './recover.js';

export interface RaftDriverOptions<Result> {
  readonly raft: RaftConfig;
  /** Wall-clock length of one core tick. */
  readonly tickIntervalMs: number;
  readonly transport: Transport;
  readonly log: DurableLog;
  readonly snapshots: SnapshotStorage;
  readonly stateMachine: StateMachine<Result>;
  /** Founding voters: used only when the storage is empty (a brand-new cluster). */
  readonly bootstrap?: readonly NodeId[];
  /** Peer addresses known at start (the rest arrive in membership-change contexts). */
  readonly peers?: ReadonlyMap<NodeId, string>;
  /**
   * Snapshot the state machine and compact the log every this many applied entries (0: never). Voters take turns:
   * voter k of n (by id) snapshots at the indexes k/n of this interval past each multiple of it, so the members of
   * a cluster do not all encode and write a snapshot at the same moment.
   */
  readonly snapshotEveryEntries?: number;
  /** A proposal or read not answered within this long is rejected with an unknown outcome. */
  readonly requestTimeoutMs?: number;
  readonly random?: Random;
  /**
   * A follower forwards `propose` to the leader over the peer link (one `propose` message per event-loop turn
   * carries every proposal made in it) and resolves when it applies the entry; off: it refuses with notLeader.
   */
  readonly forwardProposals?: boolean;
  /** Storage failures stop the node (continuing could break durability promises). */
  readonly onFatal?: (error: unknown) => void;
}

/** Messages a leader may send before its own fsync: they acknowledge nothing on this node's disk. */
const sendsBeforePersist = (m: Message): boolean => m.type === 'append' || m.type === 'heartbeat';

/**
 * `lost`: another entry was committed at the proposal's index, it certainly did not happen. `unknown`: this node
 * can no longer tell (a forwarded proposal's answer was lost, or a snapshot covered its index); it may have.
 */
export class RaftRequestError extends Error {
  constructor(
    readonly error: RaftError | { readonly kind: 'timeout' | 'stopped' | 'lost' | 'unknown' | 'readFailed' },
  ) {
    super(
      error.kind === 'notLeader'
        ? `not the leader (leader: ${error.leaderHint ?? 'unknown'})`
        : error.kind === 'invalid'
          ? `invalid: ${error.reason}`
          : error.kind,
    );
    this.name = 'RaftRequestError';
  }
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** A proposal's waiter; a forwarded one learns its index and term from the leader's answer. */
interface ProposalWaiter<Result> extends Waiter<{ index: number; result: Result }> {
  term: number;
  index?: number;
  /** Settled already (timed out while its forwarded message was in flight). */
  done?: boolean;
}

/**
 * Runs a {@link RaftNode} against real time, a transport, a durable log, a snapshot store and a state
 * machine. Each Ready is handled in the order persist (one `DurableLog.save`: group commit), send,
 * apply, advance; proposals that arrive while a Ready is being persisted go into the next one together.
 * Two exceptions that save an fsync on the commit path, both safe by construction: a leader's appends and
 * heartbeats leave before its own fsync, and committed entries already durable here are applied while the
 * fsync of the new ones runs.
 */
export class RaftDriver<Result = unknown> {
  private core: RaftNode | null = null;
  private timer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  private rerun = false;
  private stopped = false;
  private appliedIndex = 0;
  private lastLeader: NodeId | null = null;
  private readSeq = 0;
  private readonly proposals = new Map<number, ProposalWaiter<Result>>();
  private readonly forwarder: ProposalForwarder<ProposalWaiter<Result>>;
  private forwardScheduled = false;
  private ticks = 0;
  /** The snapshot being written (and the log compacted behind it), off the Ready loop. */
  private snapshotSave: Promise<void> | null = null;
  private readonly reads = new Map<string, Waiter<number> & { index?: number }>();
  private readonly leaderListeners: ((leader: NodeId | null, term: number) => void)[] = [];
  private readonly requestTimeoutMs: number;
  /** Last log index this driver wrote to disk (entries at or below it, if committed, need no fsync to apply). */
  private durableIndex = 0;
  /** Term and vote of the last synced hard state (see MustSync in `handle`). */
  private syncedTermVote: { term: number; vote: NodeId | null } = { term: -1, vote: null };

  constructor(private readonly options: RaftDriverOptions<Result>) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.forwarder = new ProposalForwarder(options.raft.id);
  }

  get id(): NodeId {
    return this.options.raft.id;
  }

  async start(): Promise<void> {
    const { log, snapshots, stateMachine, transport } = this.options;
    const snapshot = await snapshots.load();
    let hardState = await log.loadHardState();
    let entries = await log.load();
    if (!snapshot && hardState === null && entries.length === 0 && this.options.bootstrap) {
      const boot = RaftNode.bootstrap(this.options.bootstrap);
      await log.save(boot.hardState, boot.entries);
      hardState = boot.hardState;
      entries = [...boot.entries];
    }
    const state = recoverState(snapshot, hardState, entries);
    this.durableIndex = Math.max(entries.at(-1)?.index ?? 0, snapshot?.meta.index ?? 0);
    if (snapshot) {
      stateMachine.restore(snapshot.data);
      this.appliedIndex = snapshot.meta.index;
    }
    const random = this.options.random ?? new Xoshiro128(randomInt(0, 2 ** 31));
    this.core = new RaftNode(this.options.raft, random, state);
    for (const [id, address] of this.options.peers ?? []) if (id !== this.id) transport.setPeer(id, address);
    transport.onMessage((m) => {
      if (this.stopped || !this.core || m.to !== this.id) return;
      if (m.type === 'propose') this.acceptForwarded(this.core, m);
      else if (m.type === 'proposeResp') {
        this.placeForwarded(m);
        return;
      } else this.core.step(m);
      this.kick();
    });
    const timeoutTicks = Math.ceil(this.requestTimeoutMs / this.options.tickIntervalMs) + 1;
    this.timer = setInterval(() => {
      if (this.stopped || !this.core) return;
      this.core.tick();
      // Forwarded messages never answered (their waiters timed out long ago) are forgotten.
      if (++this.ticks % timeoutTicks === 0) {
        this.failForwarded(this.forwarder.abandon(this.lastLeader, this.ticks - timeoutTicks));
      }
      this.kick();
    }, this.options.tickIntervalMs);
    this.kick();
  }

  /** Stops ticking and receiving, waits for the Ready in progress, rejects what is pending. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.loop;
    await this.snapshotSave;
    this.failAll('stopped');
    await this.options.transport.close();
    await this.options.log.close();
  }

  /** Resolves with the state machine's result once the entry is applied here. */
  propose(data: Uint8Array): Promise<{ index: number; result: Result }> {
    const core = this.running();
    const r = core.propose(data);
    if (!r.ok) {
      if (r.error.kind === 'notLeader' && r.error.leaderHint !== null && this.options.forwardProposals) {
        return this.forward(data);
      }
      return Promise.reject(new RaftRequestError(r.error));
    }
    const promise = new Promise<{ index: number; result: Result }>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proposals.delete(r.index);
        reject(new RaftRequestError({ kind: 'timeout' }));
      }, this.requestTimeoutMs);
      this.track(r.index, { resolve, reject, timer, term: r.term });
    });
    this.kick();
    return promise;
  }

  /** Linearizable read barrier: resolves with the read index once it is applied here. */
  readIndex(): Promise<number> {
    const core = this.running();
    const context = `${this.id}:${++this.readSeq}`;
    const r = core.readIndex(context);
    if (!r.ok) return Promise.reject(new RaftRequestError(r.error));
    const promise = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(context);
        reject(new RaftRequestError({ kind: 'timeout' }));
      }, this.requestTimeoutMs);
      this.reads.set(context, { resolve, reject, timer });
    });
    this.kick();
    return promise;
  }

  addLearner(node: NodeId, address?: string): Promise<{ index: number }> {
    return this.confChange({
      type: 'addLearner',
      node,
      ...(address !== undefined ? { context: address } : {}),
    });
  }

  promote(node: NodeId): Promise<{ index: number }> {
    return this.confChange({ type: 'promote', node });
  }

  removeMember(node: NodeId): Promise<{ index: number }> {
    return this.confChange({ type: 'remove', node });
  }

  /** Resolves once the change is applied here. */
  confChange(change: ConfChange): Promise<{ index: number }> {
    const core = this.running();
    const r = core.proposeConfChange(change);
    if (!r.ok) return Promise.reject(new RaftRequestError(r.error));
    const promise = new Promise<{ index: number }>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.proposals.delete(r.index);
        reject(new RaftRequestError({ kind: 'timeout' }));
      }, this.requestTimeoutMs);
      this.track(r.index, {
        resolve: (v) => resolve({ index: v.index }),
        reject,
        timer,
        term: r.term,
      });
    });
    this.kick();
    return promise;
  }

  /** Resolves once `to` leads (as seen here), rejects after the request timeout. */
  transferLeadership(to: NodeId): Promise<void> {
    const core = this.running();
    const r = core.transferLeadership(to);
    if (!r.ok) return Promise.reject(new RaftRequestError(r.error));
    this.kick();
    if (core.status().leader === to) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(new RaftRequestError({ kind: 'timeout' }));
      }, this.requestTimeoutMs);
      const listener = (leader: NodeId | null): void => {
        if (leader !== to) return;
        clearTimeout(timer);
        done();
        resolve();
      };
      const done = (): void => {
        const i = this.leaderListeners.indexOf(listener);
        if (i >= 0) this.leaderListeners.splice(i, 1);
      };
      this.leaderListeners.push(listener);
    });
  }

  onLeaderChange(listener: (leader: NodeId | null, term: number) => void): void {
    this.leaderListeners.push(listener);
  }

  status(): RaftStatus & { readonly appliedIndex: number } {
    return { ...this.running().status(), appliedIndex: this.appliedIndex };
  }

  // ------------------------------------------------------------ forwarded proposals

  /** Follower: queue for the leader; one `propose` message per event-loop turn carries the whole queue. */
  private forward(data: Uint8Array): Promise<{ index: number; result: Result }> {
    return new Promise((resolve, reject) => {
      const waiter: ProposalWaiter<Result> = {
        resolve,
        reject,
        term: 0,
        timer: undefined as unknown as NodeJS.Timeout,
      };
      const queued = this.forwarder.enqueue(data, waiter);
      if (queued === 'full') {
        reject(new RaftRequestError({ kind: 'overloaded' }));
        return;
      }
      waiter.timer = setTimeout(() => {
        waiter.done = true;
        if (waiter.index !== undefined && this.proposals.get(waiter.index) === waiter) {
          this.proposals.delete(waiter.index);
        }
        reject(new RaftRequestError({ kind: 'timeout' }));
      }, this.requestTimeoutMs);
      if (!this.forwardScheduled) {
        this.forwardScheduled = true;
        setImmediate(this.sendForwarded);
      }
    });
  }

  private readonly sendForwarded = (): void => {
    this.forwardScheduled = false;
    if (this.stopped || !this.core) {
      for (const { waiter } of this.forwarder.takeQueued()) this.fail(waiter, 'stopped');
      return;
    }
    const core = this.core;
    const { leader, term } = core.status();
    if (leader === null || leader === this.id) {
      // Leadership moved while they waited: propose here (this node leads) or refuse (nobody does: retry).
      for (const { data, waiter } of this.forwarder.takeQueued()) {
        const r = core.propose(data);
        if (!r.ok) {
          clearTimeout(waiter.timer);
          waiter.reject(new RaftRequestError(r.error));
        } else {
          waiter.term = r.term;
          waiter.index = r.index;
          this.track(r.index, waiter);
        }
      }
      this.kick();
      return;
    }
    for (const m of this.forwarder.drain(leader, term, this.ticks)) this.options.transport.send(m);
    this.options.transport.flush?.();
  };

  /**
   * Leader: append a follower's proposals and answer at once with their indexes. The answer leaves before the
   * appends that carry them (both on the link to that follower, in order), so the follower always knows an
   * entry is its own before it can learn that the entry committed.
   */
  private acceptForwarded(core: RaftNode, m: ProposeRequest): void {
    let index = 0;
    let accepted = 0;
    let refusal: ProposeResponse['refusal'];
    let leaderHint: NodeId | undefined;
    for (const data of m.entries) {
      const r = core.propose(data);
      if (!r.ok) {
        refusal =
          r.error.kind === 'notLeader' || r.error.kind === 'transferring' ? r.error.kind : 'overloaded';
        if (r.error.kind === 'notLeader' && r.error.leaderHint !== null) leaderHint = r.error.leaderHint;
        break;
      }
      if (accepted === 0) index = r.index;
      accepted++;
    }
    this.options.transport.send({
      type: 'proposeResp',
      from: this.id,
      to: m.from,
      term: core.status().term,
      context: m.context,
      index,
      accepted,
      ...(refusal !== undefined ? { refusal } : {}),
      ...(leaderHint !== undefined ? { leaderHint } : {}),
    });
  }

  /** Follower: the leader's answer; placed proposals now wait for their index to be applied here. */
  private placeForwarded(m: ProposeResponse): void {
    const outcome = this.forwarder.answer(m);
    for (const { waiter, index, term } of outcome.placed) {
      if (waiter.done) continue;
      // Out of order (never on one TCP link): the entry was applied before we knew it was ours.
      if (index <= this.appliedIndex) this.fail(waiter, 'unknown');
      else {
        waiter.term = term;
        waiter.index = index;
        this.track(index, waiter);
      }
    }
    for (const { waiter, refusal, leaderHint } of outcome.refused) {
      if (waiter.done) continue;
      clearTimeout(waiter.timer);
      waiter.reject(
        new RaftRequestError(
          refusal === 'notLeader'
            ? { kind: 'notLeader', leaderHint }
            : refusal === 'transferring'
              ? { kind: 'transferring', to: leaderHint ?? m.from }
              : { kind: 'overloaded' },
        ),
      );
    }
    this.failForwarded(outcome.unknown);
  }

  private failForwarded(waiters: readonly ProposalWaiter<Result>[]): void {
    for (const waiter of waiters) if (!waiter.done) this.fail(waiter, 'unknown');
  }

  private fail(waiter: ProposalWaiter<Result>, kind: 'unknown' | 'stopped'): void {
    waiter.done = true;
    clearTimeout(waiter.timer);
    waiter.reject(new RaftRequestError({ kind }));
  }

  // ------------------------------------------------------------ the Ready loop

  private running(): RaftNode {
    if (!this.core || this.stopped) throw new RaftRequestError({ kind: 'stopped' });
    return this.core;
  }

  /**
   * Runs the Ready loop, or asks the running one to look again. A kick that lands after the loop's last look
   * but before its promise settled (the `.finally` below runs a few microtasks after `runLoop` returned) would
   * otherwise be lost until the next tick: a follower's forwarded proposal then waited up to a whole tick
   * (100 ms) on the leader. So the flag is set first and checked again once the loop is gone.
   */
  private kick(): void {
    this.rerun = true;
    if (this.loop) return;
    this.loop = this.runLoop()
      .catch((error: unknown) => this.fatal(error))
      .finally(() => {
        this.loop = null;
        if (this.rerun && !this.stopped) this.kick();
      });
  }

  private async runLoop(): Promise<void> {
    const core = this.core!;
    do {
      this.rerun = false;
      this.noticeLeader(core);
      while (!this.stopped && core.hasReady()) {
        await this.handle(core.ready());
        core.advance();
        this.noticeLeader(core);
        this.maybeSnapshot(core);
      }
    } while (this.rerun && !this.stopped);
  }

  private async handle(rd: Ready): Promise<void> {
    const { log, snapshots, transport, stateMachine } = this.options;
    // 1. Persist: hard state and entries in one write (group commit); a snapshot first, atomically.
    if (rd.snapshot) {
      await this.snapshotSave; // our own older snapshot first, so the leader's one is the newest on disk
      await snapshots.save(rd.snapshot);
      await log.save(null, [snapshotWitness(rd.snapshot)]);
      await log.compact(rd.snapshot.meta.index - 1);
    }
    let pending: readonly Message[] = rd.messages;
    let applied = 0;
    if (rd.hardState || rd.entries.length > 0) {
      // MustSync (etcd): new entries, or a new term or vote, must be durable before anything depends on them;
      // a hard state that only moved the commit index rides along with the next synced write.
      const hs = rd.hardState;
      const termVoteChanged =
        hs !== undefined && (hs.term !== this.syncedTermVote.term || hs.vote !== this.syncedTermVote.vote);
      const mustSync = rd.entries.length > 0 || termVoteChanged;
      // A leader's appends and heartbeats go out before its own fsync (Raft thesis §10.2.1, etcd): they promise
      // nothing about this node's disk, and the leader counts itself toward a quorum only once the entries
      // are durable (its own match index moves in advance()). Votes and acknowledgements still wait for the
      // fsync, and nothing leaves early while a new term or vote is not yet durable.
      if (!termVoteChanged && !rd.snapshot) {
        const early = pending.filter(sendsBeforePersist);
        if (early.length > 0) {
          for (const m of early) transport.send(m);
          transport.flush?.();
          pending = pending.filter((m) => !sendsBeforePersist(m));
        }
      }
      const saved = log.save(hs ?? null, rd.entries, { sync: mustSync });
      // While the fsync runs, apply committed entries that were already durable here before this Ready (below
      // the first entry it writes, which may overwrite a suffix): they wait for nothing but the state machine.
      const firstWritten = rd.entries[0]?.index ?? Number.POSITIVE_INFINITY;
      const durableBefore = Math.min(firstWritten - 1, this.durableIndex);
      if (!rd.snapshot) {
        while (applied < rd.committedEntries.length && rd.committedEntries[applied]!.index <= durableBefore) {
          this.apply(rd.committedEntries[applied]!);
          applied++;
        }
        if (applied > 0) this.releaseReads();
      }
      await saved;
      if (hs !== undefined && mustSync) this.syncedTermVote = { term: hs.term, vote: hs.vote };
      const last = rd.entries.at(-1);
      if (last !== undefined) this.durableIndex = last.index;
    }
    // 2. Send: only now may anyone learn of a vote or an acknowledged entry.
    for (const m of pending) transport.send(m);
    if (pending.length > 0) transport.flush?.();
    // 3. Apply.
    if (rd.snapshot) {
      stateMachine.restore(rd.snapshot.data);
      this.appliedIndex = rd.snapshot.meta.index;
      this.durableIndex = Math.max(this.durableIndex, rd.snapshot.meta.index);
      // The snapshot may or may not include them: this node cannot tell any more.
      for (const [index, w] of this.proposals) {
        if (index <= this.appliedIndex) this.settle(index, w, new RaftRequestError({ kind: 'unknown' }));
      }
    }
    for (let i = applied; i < rd.committedEntries.length; i++) this.apply(rd.committedEntries[i]!);
    for (const rs of rd.readStates) {
      const w = this.reads.get(rs.context);
      if (!w) continue;
      if (rs.index === 0) {
        this.reads.delete(rs.context);
        clearTimeout(w.timer);
        w.reject(new RaftRequestError({ kind: 'readFailed' }));
      } else w.index = rs.index;
    }
    this.releaseReads();
  }

  private apply(e: Entry): void {
    const { stateMachine, transport } = this.options;
    let result: Result | undefined;
    if (e.type === 'normal') result = stateMachine.apply(e);
    else if (e.type === 'config') {
      const payload = decodeConfEntry(e.data);
      if ('change' in payload && payload.change.node !== this.id) {
        const c = payload.change;
        if (c.type === 'remove') transport.removePeer(c.node);
        else if (c.context !== undefined) transport.setPeer(c.node, c.context);
      }
    }
    this.appliedIndex = e.index;
    const w = this.proposals.get(e.index);
    if (!w) return;
    if (w.term === e.term) {
      this.proposals.delete(e.index);
      clearTimeout(w.timer);
      w.resolve({ index: e.index, result: result as Result });
    } else {
      // Another leader's entry took the slot: the proposal certainly did not happen.
      this.settle(e.index, w, new RaftRequestError({ kind: 'lost' }));
    }
  }

  /**
   * A new proposal at an index means this node's log no longer holds the old one there. Another node's log may
   * still, and a later leader could commit it (5+ members): its outcome is unknown, not lost.
   */
  private track(index: number, waiter: ProposalWaiter<Result>): void {
    const previous = this.proposals.get(index);
    if (previous) this.settle(index, previous, new RaftRequestError({ kind: 'unknown' }));
    this.proposals.set(index, waiter);
  }

  private settle(index: number, w: ProposalWaiter<Result>, error: Error): void {
    this.proposals.delete(index);
    w.done = true;
    clearTimeout(w.timer);
    w.reject(error);
  }

  private releaseReads(): void {
    for (const [context, w] of this.reads) {
      if (w.index !== undefined && w.index <= this.appliedIndex) {
        this.reads.delete(context);
        clearTimeout(w.timer);
        w.resolve(w.index);
      }
    }
  }

  /**
   * The state machine is serialized here, between two Readies (it must be one consistent state), but the file is
   * written and the log compacted off the Ready loop: commits go on while the snapshot's write and fsync run
   * (the p99 of puts under load had a spike at every snapshot). One at a time; the log is compacted only once
   * the snapshot is durable, so a crash in between restarts from the previous snapshot and the full log.
   */
  private maybeSnapshot(core: RaftNode): void {
    const every = this.options.snapshotEveryEntries ?? 0;
    if (every <= 0 || this.snapshotSave !== null) return;
    if (!snapshotDue(core.status(), this.appliedIndex, every)) return;
    const { snapshots, log, stateMachine } = this.options;
    const index = this.appliedIndex;
    // The state is captured now, at `index`; a state machine that can encode it later does so in slices while
    // this loop goes on serving (one that cannot encodes it here, synchronously, as before).
    const encode = stateMachine.captureSnapshot?.() ?? (() => Promise.resolve(stateMachine.snapshot()));
    this.snapshotSave = (async () => {
      const data = await encode();
      // A leader's snapshot installed meanwhile (or a stop) makes this one moot.
      if (this.stopped || this.core !== core || index <= core.status().snapshotIndex) return;
      const snap = core.compact(index, data);
      await snapshots.save(snap);
      // Keep the entry at the snapshot's index: it is the witness `recoverState` checks on restart.
      await log.compact(snap.meta.index - 1);
    })()
      .catch((error: unknown) => this.fatal(error))
      .finally(() => {
        this.snapshotSave = null;
      });
  }

  private noticeLeader(core: RaftNode): void {
    const s = core.status();
    if (s.leader === this.lastLeader) return;
    this.lastLeader = s.leader;
    // Forwarded messages the old leader has not answered: appended or not, this node cannot tell.
    this.failForwarded(this.forwarder.abandon(s.leader, Number.NEGATIVE_INFINITY));
    for (const l of [...this.leaderListeners]) l(s.leader, s.term);
  }

  private failAll(kind: 'stopped'): void {
    for (const [index, w] of this.proposals) this.settle(index, w, new RaftRequestError({ kind }));
    for (const { waiter } of this.forwarder.takeQueued()) this.fail(waiter, kind);
    this.failForwarded(this.forwarder.abandon(null, Number.POSITIVE_INFINITY));
    for (const [context, w] of this.reads) {
      this.reads.delete(context);
      clearTimeout(w.timer);
      w.reject(new RaftRequestError({ kind }));
    }
  }

  private fatal(error: unknown): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.failAll('stopped');
    this.options.onFatal?.(error);
  }
}

/**
 * Whether a node should snapshot now: it has applied at least half an interval since its last snapshot and has
 * crossed its own mark, `m * every - offset`, where voter k of n (voters sorted by id) has offset `k * every / n`.
 * Every node still snapshots once per `every` entries (at least every / 2, at most `every` apart), but the voters
 * of a cluster do it at different indexes: encoding and writing a snapshot takes each node's CPU and the disk for
 * a while, and all three at once is what showed in the put tail (docs/coordinator.md). A node that is not a voter
 * uses offset 0.
 */
export function snapshotDue(
  status: {
    readonly id: NodeId;
    readonly snapshotIndex: number;
    readonly conf: { readonly voters: readonly NodeId[] };
  },
  appliedIndex: number,
  every: number,
): boolean {
  const since = appliedIndex - status.snapshotIndex;
  if (since < every / 2) return false;
  // Called on every Ready past half an interval: the rank is counted, not found in a sorted copy.
  const voters = status.conf.voters;
  let rank = 0;
  for (const voter of voters) if (voter < status.id) rank++;
  const offset = voters.includes(status.id) ? Math.floor((rank * every) / voters.length) : 0;
  return Math.floor((appliedIndex + offset) / every) > Math.floor((status.snapshotIndex + offset) / every);
}
