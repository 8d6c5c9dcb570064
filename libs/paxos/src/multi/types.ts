import type { NodeId } from '@concord/raft';
import type { Ballot, Value } from '../ballot.js';

export interface SlotValue {
  readonly slot: number;
  readonly value: Value;
}

export interface AcceptedSlot extends SlotValue {
  readonly ballot: Ballot;
}

/**
 * Multi-Paxos messages. `prepare` and `promise` run phase 1 for every slot from `fromSlot` on at once (one
 * phase 1 per leader, not per slot); `accept` and `accepted` run phase 2 per slot. `heartbeat` keeps the
 * leader's ballot known and carries how far the log is chosen; `chosen` catches a lagging learner up.
 */
export type PaxosMessage =
  | {
      readonly type: 'prepare';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly ballot: Ballot;
      readonly fromSlot: number;
    }
  | {
      readonly type: 'promise';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly ballot: Ballot;
      readonly accepted: readonly AcceptedSlot[];
    }
  | {
      readonly type: 'accept';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly ballot: Ballot;
      readonly slot: number;
      readonly value: Value;
      /** Every slot up to here is chosen (the leader's knowledge); lets followers learn without a round. */
      readonly chosenThrough: number;
    }
  | {
      readonly type: 'accepted';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly ballot: Ballot;
      readonly slot: number;
    }
  | {
      readonly type: 'nack';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly ballot: Ballot;
      readonly promised: Ballot;
    }
  | {
      readonly type: 'heartbeat';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly ballot: Ballot;
      readonly chosenThrough: number;
    }
  | {
      readonly type: 'heartbeatResp';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly ballot: Ballot;
      /** The first slot this node does not know chosen. */
      readonly firstUnchosen: number;
    }
  | {
      readonly type: 'chosen';
      readonly from: NodeId;
      readonly to: NodeId;
      readonly entries: readonly SlotValue[];
    };

/** What an acceptor must have on disk before it answers (a promise or an acceptance forgotten is a lie). */
export interface PaxosDurableState {
  readonly promised: Ballot;
  readonly accepted: ReadonlyMap<number, { readonly ballot: Ballot; readonly value: Value }>;
}

/** A change to the durable state: a new promise and/or new acceptances. */
export interface PaxosWrite {
  readonly promised?: Ballot;
  readonly accepted: readonly AcceptedSlot[];
}

export interface PaxosReady {
  /** Persist first (and sync), then send, then apply. */
  readonly write: PaxosWrite | null;
  readonly messages: readonly PaxosMessage[];
  /** Newly chosen slots, consecutive, in order: apply them. */
  readonly chosen: readonly SlotValue[];
}

export type PaxosRole = 'follower' | 'candidate' | 'leader';

export interface PaxosStatus {
  readonly id: NodeId;
  readonly role: PaxosRole;
  readonly ballot: Ballot;
  readonly promised: Ballot;
  readonly leaderHint: NodeId | null;
  readonly firstUnchosen: number;
  readonly nextSlot: number;
  /** Phase 1 rounds this node started (once per leadership when election is on). */
  readonly phase1Started: number;
}

export type PaxosProposeResult =
  | { readonly ok: true; readonly slot: number; readonly ballot: Ballot }
  | { readonly ok: true; readonly slot: null; readonly ballot: Ballot }
  | { readonly ok: false; readonly leaderHint: NodeId | null };
