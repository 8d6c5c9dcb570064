import type { NodeId, Random } from '@concord/raft';
import { compareBallots, majority, sameBallot, ZERO_BALLOT, type Ballot, type Value } from '../ballot.js';
import type {
  AcceptedSlot,
  PaxosDurableState,
  PaxosMessage,
  PaxosProposeResult,
  PaxosReady,
  PaxosRole,
  PaxosStatus,
  SlotValue,
} from './types.js';

export interface PaxosConfig {
  readonly id: NodeId;
  /** Every acceptor, this node included. */
  readonly members: readonly NodeId[];
  /** A follower that hears no leader for this many ticks (randomized up to twice as many) runs phase 1. */
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  /**
   * On: one distinguished proposer. Nodes defer to the highest ballot they hear from, forward nothing, and run
   * phase 1 only after a randomized timeout. Off: classic Paxos with competing proposers: any node with a
   * command runs phase 1 at once and, preempted, retries at once with a higher ballot (the dueling-proposers
   * livelock of "Paxos Made Simple" §2.4).
   */
  readonly leaderElection: boolean;
  /** Slots re-sent per tick to a peer that has not acknowledged them (bounds a tick's work). */
  readonly resendSlotsMax: number;
  /** Chosen slots sent per catch-up message. */
  readonly catchUpSlotsMax: number;
}

export const defaultPaxosConfig: Omit<PaxosConfig, 'id' | 'members'> = {
  electionTimeoutTicks: 15,
  heartbeatIntervalTicks: 5,
  leaderElection: true,
  resendSlotsMax: 32,
  catchUpSlotsMax: 64,
};

interface Proposal {
  readonly value: Value;
  readonly acks: Set<NodeId>;
  /** A client's command this node introduced (not one phase 1 found accepted, nor a no-op). */
  readonly own: boolean;
}

/**
 * One Multi-Paxos server: acceptor, learner and (when it leads) proposer, as a pure synchronous state machine in
 * the manner of etcd-io/raft. The caller drives `tick()`, feeds `step(message)` and `propose(bytes)`, takes a
 * `ready()` bundle, persists its write, sends its messages, applies its chosen slots, then calls `advance()`.
 * No clock, no I/O, no randomness of its own (the randomized timeout comes from the injected `Random`).
 *
 * Leadership is by ballots: the node that completes phase 1 with the highest ballot leads. It runs phase 1 once
 * for every slot it does not know chosen, re-proposes in each such slot the value accepted with the highest
 * ballot (a no-op where nobody accepted anything: that fills the log's holes), then runs phase 2 alone per new
 * command until a higher ballot preempts it.
 */
export class PaxosNode {
  private readonly cfg: PaxosConfig;
  private readonly peers: NodeId[];
  // Acceptor (durable).
  private promised: Ballot;
  private readonly accepted: Map<number, { ballot: Ballot; value: Value }>;
  // Learner (volatile: learned again from the leader after a restart).
  private readonly chosen = new Map<number, Value>();
  private firstUnchosen = 1;
  private appliedThrough = 0;
  // Proposer.
  private role: PaxosRole = 'follower';
  private ballot: Ballot = ZERO_BALLOT;
  private maxRound: number;
  private readonly promises = new Map<NodeId, readonly AcceptedSlot[]>();
  private prepareFrom = 1;
  private readonly log = new Map<number, Proposal>();
  private nextSlot = 1;
  /** Commands waiting for phase 1 to finish (election off: the proposer campaigns for them). */
  private readonly waiting: Uint8Array[] = [];
  private leaderHint: NodeId | null = null;
  private phase1Started = 0;
  // Timers.
  private electionElapsed = 0;
  private randomizedTimeout: number;
  private heartbeatElapsed = 0;
  // Ready.
  private out: PaxosMessage[] = [];
  private pendingWrite: { promised?: Ballot; accepted: AcceptedSlot[] } | null = null;

  constructor(
    config: PaxosConfig,
    private readonly random: Random,
    durable: PaxosDurableState = { promised: ZERO_BALLOT, accepted: new Map() },
  ) {
    this.cfg = config;
    this.peers = config.members.filter((m) => m !== config.id);
    this.promised = durable.promised;
    this.accepted = new Map(durable.accepted);
    let round = durable.promised.round;
    for (const a of durable.accepted.values()) round = Math.max(round, a.ballot.round);
    this.maxRound = round;
    this.randomizedTimeout = this.drawTimeout();
  }

  // ------------------------------------------------------------ inputs

  tick(): void {
    if (this.role === 'leader') {
      if (++this.heartbeatElapsed >= this.cfg.heartbeatIntervalTicks) {
        this.heartbeatElapsed = 0;
        for (const to of this.peers)
          this.send({
            type: 'heartbeat',
            from: this.cfg.id,
            to,
            ballot: this.ballot,
            chosenThrough: this.firstUnchosen - 1,
          });
        this.resendAccepts();
      }
      return;
    }
    if (this.role === 'candidate') {
      // Lost prepares are re-sent; a candidate that cannot win in a timeout starts over with a higher ballot.
      if (++this.heartbeatElapsed >= this.cfg.heartbeatIntervalTicks) {
        this.heartbeatElapsed = 0;
        for (const to of this.peers)
          if (!this.promises.has(to))
            this.send({
              type: 'prepare',
              from: this.cfg.id,
              to,
              ballot: this.ballot,
              fromSlot: this.prepareFrom,
            });
      }
    }
    if (!this.cfg.leaderElection) {
      if (this.waiting.length > 0 && this.role === 'follower') this.startPhase1();
      return;
    }
    if (++this.electionElapsed >= this.randomizedTimeout) this.startPhase1();
  }

  /** Asks this node to get `data` chosen. Only a leader (or, with election off, any node) takes it. */
  propose(data: Uint8Array): PaxosProposeResult {
    if (this.role === 'leader') {
      const slot = this.nextSlot++;
      this.proposeAt(slot, data, true);
      return { ok: true, slot, ballot: this.ballot };
    }
    if (!this.cfg.leaderElection) {
      this.waiting.push(data);
      if (this.role === 'follower') this.startPhase1();
      return { ok: true, slot: null, ballot: this.ballot };
    }
    return { ok: false, leaderHint: this.leaderHint };
  }

  /** Runs phase 1 now (a takeover: what a leadership transfer or an operator's nudge does). */
  campaign(): void {
    this.startPhase1();
  }

  step(m: PaxosMessage): void {
    if (m.to !== this.cfg.id) return;
    switch (m.type) {
      case 'prepare':
        return this.onPrepare(m);
      case 'promise':
        return this.onPromise(m);
      case 'accept':
        return this.onAccept(m);
      case 'accepted':
        return this.onAccepted(m);
      case 'nack':
        return this.onNack(m);
      case 'heartbeat':
        return this.onHeartbeat(m);
      case 'heartbeatResp':
        return this.onHeartbeatResp(m);
      case 'chosen':
        for (const e of m.entries) this.learn(e.slot, e.value);
        return;
    }
  }

  // ------------------------------------------------------------ Ready

  hasReady(): boolean {
    return this.out.length > 0 || this.pendingWrite !== null || this.chosen.has(this.appliedThrough + 1);
  }

  /** Takes what is ready; messages and writes produced after this call belong to the next Ready. */
  ready(): PaxosReady {
    const chosen: SlotValue[] = [];
    for (let s = this.appliedThrough + 1; s < this.firstUnchosen; s++)
      chosen.push({ slot: s, value: this.chosen.get(s)! });
    const rd: PaxosReady = { write: this.pendingWrite, messages: this.out, chosen };
    this.pendingWrite = null;
    this.out = [];
    return rd;
  }

  /** The Ready was persisted, sent and applied. */
  advance(rd: PaxosReady): void {
    const last = rd.chosen[rd.chosen.length - 1];
    if (last) this.appliedThrough = Math.max(this.appliedThrough, last.slot);
  }

  // ------------------------------------------------------------ queries

  status(): PaxosStatus {
    return {
      id: this.cfg.id,
      role: this.role,
      ballot: this.ballot,
      promised: this.promised,
      leaderHint: this.leaderHint,
      firstUnchosen: this.firstUnchosen,
      nextSlot: this.nextSlot,
      phase1Started: this.phase1Started,
    };
  }

  chosenAt(slot: number): { value: Value } | undefined {
    return this.chosen.has(slot) ? { value: this.chosen.get(slot)! } : undefined;
  }

  acceptedAt(slot: number): { ballot: Ballot; value: Value } | undefined {
    return this.accepted.get(slot);
  }

  // ------------------------------------------------------------ acceptor

  private onPrepare(m: Extract<PaxosMessage, { type: 'prepare' }>): void {
    this.observe(m.ballot);
    if (compareBallots(m.ballot, this.promised) < 0) {
      this.send({ type: 'nack', from: this.cfg.id, to: m.from, ballot: m.ballot, promised: this.promised });
      return;
    }
    if (compareBallots(m.ballot, this.promised) > 0) this.promise(m.ballot);
    if (m.from !== this.cfg.id) this.follow(m.ballot, m.from);
    const accepted: AcceptedSlot[] = [];
    for (const [slot, a] of this.accepted) if (slot >= m.fromSlot) accepted.push({ slot, ...a });
    accepted.sort((a, b) => a.slot - b.slot);
    this.send({ type: 'promise', from: this.cfg.id, to: m.from, ballot: m.ballot, accepted });
    // Without a distinguished proposer, a node with commands of its own answers a rival's prepare by outbidding
    // it at once: the rival's accepts will meet the higher promise, and the rival does the same in turn.
    if (!this.cfg.leaderElection && m.from !== this.cfg.id && this.waiting.length > 0) this.startPhase1();
  }

  private onAccept(m: Extract<PaxosMessage, { type: 'accept' }>): void {
    this.observe(m.ballot);
    if (compareBallots(m.ballot, this.promised) < 0) {
      this.send({ type: 'nack', from: this.cfg.id, to: m.from, ballot: m.ballot, promised: this.promised });
      return;
    }
    if (compareBallots(m.ballot, this.promised) > 0) this.promise(m.ballot);
    this.follow(m.ballot, m.from);
    const prev = this.accepted.get(m.slot);
    if (!prev || !sameBallot(prev.ballot, m.ballot)) {
      this.accepted.set(m.slot, { ballot: m.ballot, value: m.value });
      this.write().accepted.push({ slot: m.slot, ballot: m.ballot, value: m.value });
    }
    this.send({ type: 'accepted', from: this.cfg.id, to: m.from, ballot: m.ballot, slot: m.slot });
    this.learnThrough(m.ballot, m.chosenThrough);
  }

  private onHeartbeat(m: Extract<PaxosMessage, { type: 'heartbeat' }>): void {
    this.observe(m.ballot);
    if (compareBallots(m.ballot, this.promised) < 0) {
      this.send({ type: 'nack', from: this.cfg.id, to: m.from, ballot: m.ballot, promised: this.promised });
      return;
    }
    this.follow(m.ballot, m.from);
    this.learnThrough(m.ballot, m.chosenThrough);
    this.send({
      type: 'heartbeatResp',
      from: this.cfg.id,
      to: m.from,
      ballot: m.ballot,
      firstUnchosen: this.firstUnchosen,
    });
  }

  private promise(b: Ballot): void {
    this.promised = b;
    this.write().promised = b;
  }

  /** A ballot at least our promise is the leader's (or a candidate's): a follower defers to it. */
  private follow(b: Ballot, from: NodeId): void {
    if (this.role !== 'follower' && !sameBallot(b, this.ballot)) this.stepDown();
    if (this.role === 'follower') {
      this.leaderHint = from;
      this.electionElapsed = 0;
    }
  }

  // ------------------------------------------------------------ learner

  /** Slots through `through` are chosen; ours hold the chosen value where we accepted it in the same ballot. */
  private learnThrough(b: Ballot, through: number): void {
    for (let s = this.firstUnchosen; s <= through; s++) {
      if (this.chosen.has(s)) continue;
      const a = this.accepted.get(s);
      if (a && sameBallot(a.ballot, b)) this.learn(s, a.value);
    }
  }

  private learn(slot: number, value: Value): void {
    if (this.chosen.has(slot)) return;
    this.chosen.set(slot, value);
    while (this.chosen.has(this.firstUnchosen)) this.firstUnchosen++;
  }

  // ------------------------------------------------------------ proposer

  private startPhase1(): void {
    this.maxRound = Math.max(this.maxRound, this.promised.round) + 1;
    this.ballot = { round: this.maxRound, node: this.cfg.id };
    this.role = 'candidate';
    this.leaderHint = null;
    this.phase1Started++;
    this.promises.clear();
    this.log.clear();
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedTimeout = this.drawTimeout();
    this.prepareFrom = this.firstUnchosen;
    // Our own promise first (it is persisted before any prepare leaves, like a vote for ourselves).
    this.onPrepare({
      type: 'prepare',
      from: this.cfg.id,
      to: this.cfg.id,
      ballot: this.ballot,
      fromSlot: this.prepareFrom,
    });
    for (const to of this.peers)
      this.send({ type: 'prepare', from: this.cfg.id, to, ballot: this.ballot, fromSlot: this.prepareFrom });
  }

  private onPromise(m: Extract<PaxosMessage, { type: 'promise' }>): void {
    if (this.role !== 'candidate' || !sameBallot(m.ballot, this.ballot)) return;
    this.promises.set(m.from, m.accepted);
    if (this.promises.size < majority(this.cfg.members.length)) return;
    this.becomeLeader();
  }

  /**
   * Phase 1 is done for every slot from `prepareFrom` on. In each slot some acceptor of the majority accepted,
   * the value of the highest ballot is the only one that may have been chosen: propose it again. Slots below
   * the highest one reported that nobody accepted are holes: fill them with no-ops so the log can be applied.
   */
  private becomeLeader(): void {
    this.role = 'leader';
    this.leaderHint = this.cfg.id;
    this.heartbeatElapsed = 0;
    const best = new Map<number, AcceptedSlot>();
    let top = this.prepareFrom - 1;
    for (const list of this.promises.values())
      for (const a of list) {
        top = Math.max(top, a.slot);
        const b = best.get(a.slot);
        if (!b || compareBallots(a.ballot, b.ballot) > 0) best.set(a.slot, a);
      }
    this.nextSlot = Math.max(top + 1, this.firstUnchosen);
    for (let s = this.prepareFrom; s <= top; s++) {
      if (this.chosen.has(s)) this.proposeAt(s, this.chosen.get(s)!);
      else this.proposeAt(s, best.get(s)?.value ?? null);
    }
    for (const to of this.peers)
      this.send({
        type: 'heartbeat',
        from: this.cfg.id,
        to,
        ballot: this.ballot,
        chosenThrough: this.firstUnchosen - 1,
      });
    const waiting = this.waiting.splice(0);
    for (const data of waiting) this.proposeAt(this.nextSlot++, data, true);
  }

  private proposeAt(slot: number, value: Value, own = false): void {
    this.log.set(slot, { value, acks: new Set([this.cfg.id]), own });
    // Our own acceptance (we promised our ballot, so we accept it); durable before the accepts leave.
    this.accepted.set(slot, { ballot: this.ballot, value });
    this.write().accepted.push({ slot, ballot: this.ballot, value });
    for (const to of this.peers) this.sendAccept(to, slot, value);
  }

  private sendAccept(to: NodeId, slot: number, value: Value): void {
    this.send({
      type: 'accept',
      from: this.cfg.id,
      to,
      ballot: this.ballot,
      slot,
      value,
      chosenThrough: this.firstUnchosen - 1,
    });
  }

  private onAccepted(m: Extract<PaxosMessage, { type: 'accepted' }>): void {
    if (this.role !== 'leader' || !sameBallot(m.ballot, this.ballot)) return;
    const p = this.log.get(m.slot);
    if (!p) return;
    p.acks.add(m.from);
    if (p.acks.size >= majority(this.cfg.members.length)) {
      this.learn(m.slot, p.value);
      this.log.delete(m.slot);
    }
  }

  private onNack(m: Extract<PaxosMessage, { type: 'nack' }>): void {
    this.observe(m.promised);
    if (this.role === 'follower' || !sameBallot(m.ballot, this.ballot)) return;
    // Preempted: a higher ballot was promised. Our proposals in flight may still be chosen (a later leader
    // finds them in phase 1); the commands not yet given a slot are kept only with election off.
    this.stepDown();
    if (!this.cfg.leaderElection && this.waiting.length > 0) this.startPhase1();
  }

  private onHeartbeatResp(m: Extract<PaxosMessage, { type: 'heartbeatResp' }>): void {
    if (this.role !== 'leader' || !sameBallot(m.ballot, this.ballot)) return;
    if (m.firstUnchosen >= this.firstUnchosen) return;
    const entries: SlotValue[] = [];
    for (let s = m.firstUnchosen; s < this.firstUnchosen && entries.length < this.cfg.catchUpSlotsMax; s++)
      entries.push({ slot: s, value: this.chosen.get(s)! });
    this.send({ type: 'chosen', from: this.cfg.id, to: m.from, entries });
  }

  /** Accepts lost on the way are sent again, oldest first, a bounded number per tick. */
  private resendAccepts(): void {
    let budget = this.cfg.resendSlotsMax;
    const slots = [...this.log.keys()].sort((a, b) => a - b);
    for (const slot of slots) {
      if (budget-- <= 0) break;
      const p = this.log.get(slot)!;
      for (const to of this.peers) if (!p.acks.has(to)) this.sendAccept(to, slot, p.value);
    }
  }

  private stepDown(): void {
    if (!this.cfg.leaderElection) {
      // A preempted proposer of classic Paxos still wants its commands chosen: it will try them again (the
      // state machine drops a command applied twice, by its id). With election on, clients retry instead.
      for (const p of this.log.values()) if (p.own && p.value !== null) this.waiting.push(p.value);
    }
    this.role = 'follower';
    this.ballot = ZERO_BALLOT;
    this.promises.clear();
    this.log.clear();
    this.electionElapsed = 0;
    this.randomizedTimeout = this.drawTimeout();
  }

  private observe(b: Ballot): void {
    this.maxRound = Math.max(this.maxRound, b.round);
  }

  // ------------------------------------------------------------ plumbing

  private send(m: PaxosMessage): void {
    if (m.to === this.cfg.id) {
      this.step(m);
      return;
    }
    this.out.push(m);
  }

  private write(): { promised?: Ballot; accepted: AcceptedSlot[] } {
    this.pendingWrite ??= { accepted: [] };
    return this.pendingWrite;
  }

  private drawTimeout(): number {
    return this.cfg.electionTimeoutTicks + this.random.int(this.cfg.electionTimeoutTicks);
  }
}
