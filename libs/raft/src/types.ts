/**
 * Wire and storage types shared by the Raft core, its storage and its transport.
 * This file is the contract between them: extend it, do not change what is here.
 */

export type NodeId = string;

/** `noop` is appended by every new leader (Raft §8); `config` carries a {@link ConfChange}. */
export type EntryType = 'normal' | 'noop' | 'config';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** Persisted before any message that depends on it is sent (Raft Figure 2, "persistent state"). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export type ConfChangeType = 'addLearner' | 'promote' | 'remove';

/** One membership step at a time (single-server changes, Raft thesis §4.1). */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly node: NodeId;
  /** Opaque to Raft; the application stores e.g. the node's addresses here. */
  readonly context?: string;
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

export interface VoteRequest extends Envelope {
  readonly type: 'prevote' | 'vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Set when the vote follows a leadership transfer (TimeoutNow), so followers ignore their lease. */
  readonly transfer?: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'prevoteResp' | 'voteResp';
  readonly reject: boolean;
}

export interface AppendRequest extends Envelope {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendResponse extends Envelope {
  readonly type: 'appendResp';
  readonly reject: boolean;
  /** On success: the last index now matching the leader. On reject: the prevIndex that was refused. */
  readonly index: number;
  /** Fast backtracking hints (Raft §5.3, "conflicting term" optimisation). */
  readonly conflictTerm?: number;
  readonly conflictIndex?: number;
}

export interface HeartbeatRequest extends Envelope {
  readonly type: 'heartbeat';
  readonly commit: number;
  /** ReadIndex round this heartbeat confirms leadership for. */
  readonly context?: string;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeatResp';
  readonly context?: string;
}

/** InstallSnapshot, sent in chunks of at most a configured size. */
export interface SnapshotChunk extends Envelope {
  readonly type: 'snapshot';
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly chunk: Uint8Array;
  readonly done: boolean;
}

export interface SnapshotResponse extends Envelope {
  readonly type: 'snapshotResp';
  readonly reject: boolean;
  /** Bytes received so far (next offset expected), or the snapshot index once installed. */
  readonly offset: number;
  readonly done: boolean;
}

/** Leadership transfer: the target campaigns at once. */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeoutNow';
}

/** A follower asks the leader for a read index on behalf of a local reader. */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'readIndex';
  readonly context: string;
}

export interface ReadIndexResponse extends Envelope {
  readonly type: 'readIndexResp';
  readonly context: string;
  /** 0 when the leader could not serve it (e.g. no entry committed in its term yet). */
  readonly index: number;
}

/**
 * A follower forwards client proposals to the leader over the peer link (etcd's MsgProp), many per message.
 * Not a Raft message: the driver answers it, the core never sees it.
 */
export interface ProposeRequest extends Envelope {
  readonly type: 'propose';
  /** Chosen by the sender, echoed in the answer. */
  readonly context: number;
  readonly entries: readonly Uint8Array[];
}

/** Why a leader refused forwarded proposals: each is safe to retry (nothing was appended). */
export type ProposeRefusal = 'notLeader' | 'transferring' | 'overloaded';

/**
 * The leader's answer: the first `accepted` proposals are entries `index`, `index + 1`, ... of `term`
 * (consecutive); the rest were refused with `refusal`. The sender answers its clients when it applies those
 * entries, or learns they were lost when another term's entry is applied at their index.
 */
export interface ProposeResponse extends Envelope {
  readonly type: 'proposeResp';
  readonly context: number;
  readonly index: number;
  readonly accepted: number;
  readonly refusal?: ProposeRefusal;
  readonly leaderHint?: NodeId;
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | HeartbeatRequest
  | HeartbeatResponse
  | SnapshotChunk
  | SnapshotResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse
  | ProposeRequest
  | ProposeResponse;

export type MessageType = Message['type'];
