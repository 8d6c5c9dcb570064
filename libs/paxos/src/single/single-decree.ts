import type { NodeId } from '@concord/raft';
import {
  compareBallots,
  majority,
  sameBallot,
  sameValue,
  ZERO_BALLOT,
  type Ballot,
  type Value,
} from '../ballot.js';

/**
 * Single-decree Paxos ("Paxos Made Simple", Lamport 2001): the three roles as pure objects. Each method
 * takes a message and returns the reply (or nothing); none does I/O. The caller persists an acceptor's
 * {@link AcceptorState} before it sends the reply the method returned (a promise or an acceptance that is
 * forgotten after a crash breaks the algorithm).
 */

/** An acceptor's durable state: the highest ballot it promised, and the last value it accepted. */
export interface AcceptorState {
  readonly promised: Ballot;
  readonly accepted: { readonly ballot: Ballot; readonly value: Value } | null;
}

export type SingleMessage =
  | { readonly type: 'prepare'; readonly from: NodeId; readonly to: NodeId; readonly ballot: Ballot }
  | {
      readonly type: 'promise';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly ballot: Ballot;
      readonly accepted: AcceptorState['accepted'];
    }
  | {
      readonly type: 'accept';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly ballot: Ballot;
      readonly value: Value;
    }
  | {
      readonly type: 'accepted';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly ballot: Ballot;
      readonly value: Value;
    }
  | {
      readonly type: 'nack';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly ballot: Ballot;
      readonly promised: Ballot;
    };

/** Phase 1b and 2b. */
export class Acceptor {
  constructor(
    readonly id: NodeId,
    private state: AcceptorState = { promised: ZERO_BALLOT, accepted: null },
  ) {}

  get durable(): AcceptorState {
    return this.state;
  }

  /** Promise never to accept a ballot below `ballot`, and report the last value accepted. */
  onPrepare(m: { from: NodeId; ballot: Ballot }): SingleMessage {
    if (compareBallots(m.ballot, this.state.promised) < 0)
      return { type: 'nack', from: this.id, to: m.from, ballot: m.ballot, promised: this.state.promised };
    this.state = { ...this.state, promised: m.ballot };
    return { type: 'promise', from: this.id, to: m.from, ballot: m.ballot, accepted: this.state.accepted };
  }

  /** Accept unless a higher ballot was promised. */
  onAccept(m: { from: NodeId; ballot: Ballot; value: Value }): SingleMessage {
    if (compareBallots(m.ballot, this.state.promised) < 0)
      return { type: 'nack', from: this.id, to: m.from, ballot: m.ballot, promised: this.state.promised };
    this.state = { promised: m.ballot, accepted: { ballot: m.ballot, value: m.value } };
    return { type: 'accepted', from: this.id, to: m.from, ballot: m.ballot, value: m.value };
  }
}

/** Phase 1a and 2a, for one ballot at a time. */
export class Proposer {
  private ballot: Ballot = ZERO_BALLOT;
  private phase: 'idle' | 'preparing' | 'accepting' = 'idle';
  private readonly promises = new Map<NodeId, AcceptorState['accepted']>();
  private readonly accepts = new Set<NodeId>();
  private proposal: Value = null;
  /** Highest round seen anywhere, so the next ballot outbids it. */
  private maxRound = 0;

  constructor(
    readonly id: NodeId,
    private readonly acceptors: readonly NodeId[],
    /** The value this proposer wants chosen, if phase 1 leaves it free to pick. */
    private readonly own: Value,
  ) {}

  current(): { ballot: Ballot; phase: string } {
    return { ballot: this.ballot, phase: this.phase };
  }

  /** Phase 1a: a fresh ballot above every round seen, sent to every acceptor. */
  prepare(): SingleMessage[] {
    this.maxRound++;
    this.ballot = { round: this.maxRound, node: this.id };
    this.phase = 'preparing';
    this.promises.clear();
    this.accepts.clear();
    return this.acceptors.map((to) => ({ type: 'prepare', from: this.id, to, ballot: this.ballot }));
  }

  /** Phase 2a once a majority promised: the value of the highest ballot accepted among them, else our own. */
  onPromise(m: Extract<SingleMessage, { type: 'promise' }>): SingleMessage[] {
    if (this.phase !== 'preparing' || !sameBallot(m.ballot, this.ballot)) return [];
    this.promises.set(m.from, m.accepted);
    if (this.promises.size < majority(this.acceptors.length)) return [];
    let best: AcceptorState['accepted'] = null;
    for (const a of this.promises.values())
      if (a && (best === null || compareBallots(a.ballot, best.ballot) > 0)) best = a;
    this.proposal = best ? best.value : this.own;
    this.phase = 'accepting';
    return this.acceptors.map((to) => ({
      type: 'accept',
      from: this.id,
      to,
      ballot: this.ballot,
      value: this.proposal,
    }));
  }

  /** Returns the chosen value once a majority accepted this ballot. */
  onAccepted(m: Extract<SingleMessage, { type: 'accepted' }>): { chosen: Value } | null {
    if (this.phase !== 'accepting' || !sameBallot(m.ballot, this.ballot)) return null;
    this.accepts.add(m.from);
    if (this.accepts.size < majority(this.acceptors.length)) return null;
    this.phase = 'idle';
    return { chosen: this.proposal };
  }

  /** A higher ballot was promised somewhere: this ballot is dead; the next one must outbid it. */
  onNack(m: Extract<SingleMessage, { type: 'nack' }>): boolean {
    this.maxRound = Math.max(this.maxRound, m.promised.round);
    if (!sameBallot(m.ballot, this.ballot) || this.phase === 'idle') return false;
    this.phase = 'idle';
    return true;
  }

  observeRound(round: number): void {
    this.maxRound = Math.max(this.maxRound, round);
  }
}

/** Learns the value once a majority of acceptors accepted it in the same ballot. */
export class Learner {
  private readonly votes = new Map<string, { value: Value; from: Set<NodeId> }>();
  private learned: { value: Value } | null = null;

  constructor(private readonly acceptorCount: number) {}

  onAccepted(m: Extract<SingleMessage, { type: 'accepted' }>): { value: Value } | null {
    const key = `${m.ballot.round}.${m.ballot.node}`;
    const v = this.votes.get(key) ?? { value: m.value, from: new Set<NodeId>() };
    if (!sameValue(v.value, m.value)) throw new Error(`paxos: two values accepted in ballot ${key}`);
    v.from.add(m.from);
    this.votes.set(key, v);
    if (this.learned === null && v.from.size >= majority(this.acceptorCount))
      this.learned = { value: v.value };
    return this.learned;
  }

  value(): { value: Value } | null {
    return this.learned;
  }
}
