import type {
  AppendRequest,
  AppendResponse,
  ConfChange,
  ConfState,
  Entry,
  HardState,
  HeartbeatResponse,
  Message,
  NodeId,
  Snapshot,
  SnapshotChunk,
  SnapshotResponse,
  VoteRequest,
  VoteResponse,
} from '../types.js';
import { applyConfEntry, decodeConfEntry, encodeConfEntry, isVoter, members, quorumSize } from './conf.js';
import { RaftLog } from './log.js';
import type { Random } from './prng.js';
import { Progress } from './progress.js';
import { ReadOnlyQueue } from './read-only.js';

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Every duration is in ticks; the driver decides how long a tick is. */
export interface RaftConfig {
  readonly id: NodeId;
  /** Base election timeout; each term draws a timeout in [base, 2 * base) (Raft §5.2). */
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  /** Appends sent and not yet acknowledged, per follower in replicate state. */
  readonly maxInflightAppends: number;
  readonly maxEntriesPerAppend: number;
  /** Payload bytes per append (at least one entry is always sent). */
  readonly maxBytesPerAppend: number;
  readonly snapshotChunkBytes: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Proposals refused once this many entries await commit (back-pressure). */
  readonly maxUncommittedEntries?: number;
  readonly maxPendingReads?: number;
  /** Committed entries handed out per Ready. */
  readonly maxApplyEntriesPerReady?: number;
}

export const defaultRaftConfig = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  maxInflightAppends: 64,
  maxEntriesPerAppend: 256,
  maxBytesPerAppend: 1024 * 1024,
  snapshotChunkBytes: 256 * 1024,
  preVote: true,
  checkQuorum: true,
  maxUncommittedEntries: 16_384,
  maxPendingReads: 4096,
  maxApplyEntriesPerReady: 4096,
} as const satisfies Omit<RaftConfig, 'id'>;

/** What the node restarts from: exactly what the driver persisted. */
export interface PersistedState {
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, consecutive. */
  readonly entries: readonly Entry[];
}

export interface ReadState {
  readonly context: string;
  /** The read may be served once the applied index reaches this; 0 means the read failed (retry). */
  readonly index: number;
}

/**
 * The work the driver must do, in this order: persist `hardState` and `entries` (and `snapshot`),
 * then send `messages`, then install `snapshot` and apply `committedEntries`, then call `advance()`.
 */
export interface Ready {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly readStates: readonly ReadState[];
}

export type RaftError =
  | { readonly kind: 'notLeader'; readonly leaderHint: NodeId | null }
  | { readonly kind: 'transferring'; readonly to: NodeId }
  | { readonly kind: 'confChangePending' }
  | { readonly kind: 'overloaded' }
  | { readonly kind: 'invalid'; readonly reason: string };

export type ProposeResult =
  | { readonly ok: true; readonly index: number; readonly term: number }
  | { readonly ok: false; readonly error: RaftError };

export type CommandResult = { readonly ok: true } | { readonly ok: false; readonly error: RaftError };

export interface MemberStatus {
  readonly id: NodeId;
  readonly voter: boolean;
  /** Known only on the leader. */
  readonly matchIndex?: number;
  readonly nextIndex?: number;
  readonly state?: string;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly conf: ConfState;
  readonly members: readonly MemberStatus[];
}

const EMPTY_CONF: ConfState = { voters: [], learners: [] };

interface IncomingSnapshot {
  readonly snapshot: SnapshotChunk['meta'];
  readonly chunks: Uint8Array[];
  received: number;
}

/**
 * The Raft consensus algorithm as a pure, synchronous state machine (after etcd-io/raft). Inputs:
 * `tick()`, `step(message)`, `propose`, `proposeConfChange`, `readIndex`, `transferLeadership`,
 * `compact`. Output: `ready()`. No clock, I/O, promise or global randomness inside.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly cfg: Required<RaftConfig>;
  private term = 0;
  private vote: NodeId | null = null;
  private lead: NodeId | null = null;
  private role: Role = 'follower';
  private readonly log: RaftLog;
  /** Configurations by the index of the entry that set them; the last one is in force. */
  private confHistory: { index: number; conf: ConfState }[];
  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsedTicks = 0;
  private heartbeatElapsedTicks = 0;
  private randomizedElectionTimeoutTicks = 0;
  private leadTransferee: NodeId | null = null;
  private readonly readOnly: ReadOnlyQueue;
  /** Reads that arrived before the leader committed an entry of its term (thesis §6.4 step 1). */
  private readsAwaitingCommit: { context: string; from: NodeId | null }[] = [];
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private prevHardState: HardState;
  private snapshot: Snapshot | null;
  private snapshotToInstall: Snapshot | null = null;
  private incoming: IncomingSnapshot | null = null;
  private broadcastPending = false;
  private readyOutstanding: {
    lastCommitted: number;
    lastEntry: { index: number; term: number } | null;
  } | null = null;
  private applied: number;
  /**
   * Highest index known durable on this node. The leader counts itself towards a quorum only up to
   * here, so a commit never rests on its own unsynced write (thesis §10.2.1 allows parallel writes,
   * not counting them).
   */
  private stableIndex: number;

  constructor(
    config: RaftConfig,
    private readonly random: Random,
    state: PersistedState,
  ) {
    this.cfg = { ...defaultRaftConfig, ...config };
    if (this.cfg.heartbeatIntervalTicks >= this.cfg.electionTimeoutTicks) {
      throw new Error('raft: heartbeatIntervalTicks must be below electionTimeoutTicks');
    }
    this.id = config.id;
    const snap = state.snapshot;
    const snapIndex = snap?.meta.index ?? 0;
    const entries = state.entries.filter((e) => e.index > snapIndex);
    this.log = new RaftLog(snapIndex, snap?.meta.term ?? 0, entries, state.hardState?.commit ?? 0);
    this.snapshot = snap;
    this.applied = snapIndex;
    this.confHistory = [{ index: snapIndex, conf: snap?.meta.conf ?? EMPTY_CONF }];
    for (const e of entries) if (e.type === 'config') this.pushConf(e);
    this.stableIndex = this.log.lastIndex();
    this.term = state.hardState?.term ?? 0;
    this.vote = state.hardState?.vote ?? null;
    this.prevHardState = this.hardState();
    this.readOnly = new ReadOnlyQueue(this.cfg.maxPendingReads);
    this.resetRandomizedTimeout();
  }

  /** The persisted state a founding member of a new cluster starts from: one committed config entry. */
  static bootstrap(voters: readonly NodeId[]): PersistedState {
    const entry: Entry = {
      term: 0,
      index: 1,
      type: 'config',
      data: encodeConfEntry({ bootstrap: { voters: [...voters], learners: [] } }),
    };
    return { hardState: { term: 0, vote: null, commit: 1 }, snapshot: null, entries: [entry] };
  }

  // ---------------------------------------------------------------- inputs

  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  step(m: Message): void {
    // Forwarded proposals are the driver's business (it appends them through `propose`), not protocol state.
    if (m.to !== this.id || m.type === 'propose' || m.type === 'proposeResp') return;
    if (m.term > this.term) {
      if ((m.type === 'prevote' || m.type === 'vote') && !m.transfer && this.inLease()) return;
      if (m.type === 'prevote' || (m.type === 'prevoteResp' && !m.reject)) {
        // Pre-vote never changes terms (thesis §9.6): that is its whole point.
      } else if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A stale leader cut off by a partition learns the new term and steps down (etcd's behaviour).
        this.send({ type: 'appendResp', to: m.from, term: this.term, reject: true, index: 0 });
      } else if (m.type === 'prevote') {
        this.send({ type: 'prevoteResp', to: m.from, term: this.term, reject: true });
      }
      return;
    }

    switch (m.type) {
      case 'prevote':
      case 'vote':
        this.handleVoteRequest(m);
        return;
      case 'prevoteResp':
      case 'voteResp':
        this.handleVoteResponse(m);
        return;
      default:
        break;
    }
    if (this.role === 'leader') this.stepLeader(m);
    else this.stepFollower(m);
  }

  propose(data: Uint8Array): ProposeResult {
    const refused = this.refuseProposal();
    if (refused) return { ok: false, error: refused };
    const index = this.appendEntry('normal', data);
    return { ok: true, index, term: this.term };
  }

  /** One server at a time; refused while another change is uncommitted (thesis §4.1). */
  proposeConfChange(change: ConfChange): ProposeResult {
    const refused = this.refuseProposal();
    if (refused) return { ok: false, error: refused };
    if (this.latestConfIndex() > this.log.committed || this.log.termAt(this.log.committed) !== this.term) {
      // The term check is the fix of thesis errata: a leader must commit an entry of its own term first.
      return { ok: false, error: { kind: 'confChangePending' } };
    }
    const conf = this.conf();
    const invalid = validateChange(conf, change, this.progress.get(change.node), this.log.committed);
    if (invalid) return { ok: false, error: { kind: 'invalid', reason: invalid } };
    const index = this.appendEntry('config', encodeConfEntry({ change }));
    return { ok: true, index, term: this.term };
  }

  /** Linearizable read (thesis §6.4); the answer comes back as a ReadState in a later Ready. */
  readIndex(context: string): CommandResult {
    if (this.role === 'leader') {
      this.handleReadIndex(context, null);
      return { ok: true };
    }
    if (this.lead === null) return { ok: false, error: { kind: 'notLeader', leaderHint: null } };
    this.send({ type: 'readIndex', to: this.lead, term: this.term, context });
    return { ok: true };
  }

  transferLeadership(to: NodeId): CommandResult {
    if (this.role !== 'leader') return { ok: false, error: { kind: 'notLeader', leaderHint: this.lead } };
    if (to === this.id) return { ok: true };
    if (!isVoter(this.conf(), to))
      return { ok: false, error: { kind: 'invalid', reason: `${to} is not a voter` } };
    if (this.leadTransferee === to) return { ok: true };
    this.leadTransferee = to;
    // Transfer must finish within an election timeout or it is abandoned (thesis §3.10).
    this.electionElapsedTicks = 0;
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to, term: this.term });
    else this.sendAppend(to, true);
    return { ok: true };
  }

  /**
   * The application took a snapshot of its state machine at applied index `index`: entries up to it are
   * dropped from memory and the snapshot is what lagging followers receive. Returns the snapshot to save.
   */
  compact(index: number, data: Uint8Array): Snapshot {
    if (index > this.applied) throw new Error(`raft: compact ${index} beyond applied ${this.applied}`);
    if (index <= this.log.snapshotIndex)
      throw new Error(`raft: compact ${index} at or below ${this.log.snapshotIndex}`);
    const meta = { index, term: this.log.termAt(index)!, conf: this.confAt(index) };
    const snapshot: Snapshot = { meta, data };
    this.log.compact(index);
    this.snapshot = snapshot;
    const keep = this.confHistory.findLastIndex((c) => c.index <= index);
    this.confHistory = [{ index, conf: meta.conf }, ...this.confHistory.slice(keep + 1)];
    return snapshot;
  }

  // ---------------------------------------------------------------- output

  hasReady(): boolean {
    if (this.readyOutstanding) return false;
    this.flush();
    return (
      this.msgs.length > 0 ||
      this.log.hasUnstable() ||
      this.log.committed > this.log.applying ||
      this.readStates.length > 0 ||
      this.snapshotToInstall !== null ||
      !sameHardState(this.hardState(), this.prevHardState)
    );
  }

  /** At most one Ready is outstanding: call `advance()` before the next `ready()`. */
  ready(): Ready {
    if (this.readyOutstanding) throw new Error('raft: ready() called before advance()');
    this.flush();
    const hs = this.hardState();
    const snapshot = this.snapshotToInstall ?? undefined;
    this.snapshotToInstall = null;
    const rd: Ready = {
      ...(sameHardState(hs, this.prevHardState) ? {} : { hardState: hs }),
      entries: this.log.takeUnstable(),
      messages: this.msgs,
      committedEntries: this.log.takeCommitted(this.cfg.maxApplyEntriesPerReady),
      ...(snapshot ? { snapshot } : {}),
      readStates: this.readStates,
    };
    this.prevHardState = hs;
    this.msgs = [];
    this.readStates = [];
    const last = rd.entries.at(-1);
    this.readyOutstanding = {
      lastCommitted: rd.committedEntries.at(-1)?.index ?? snapshot?.meta.index ?? 0,
      lastEntry: last ? { index: last.index, term: last.term } : null,
    };
    return rd;
  }

  /** The Ready was persisted, sent and applied. */
  advance(): void {
    if (!this.readyOutstanding) throw new Error('raft: advance() without ready()');
    const { lastCommitted, lastEntry } = this.readyOutstanding;
    this.applied = Math.max(this.applied, lastCommitted, this.log.snapshotIndex);
    this.readyOutstanding = null;
    // Entries truncated while they were being written are not the ones now in the log (etcd's stableTo).
    if (lastEntry && this.log.termAt(lastEntry.index) === lastEntry.term) {
      this.stableIndex = Math.max(this.stableIndex, lastEntry.index);
    }
    if (this.role === 'leader') {
      this.progress.get(this.id)?.maybeUpdate(Math.min(this.stableIndex, this.log.lastIndex()));
      if (this.maybeCommit()) this.broadcastPending = true;
    }
  }

  // ---------------------------------------------------------------- queries

  status(): RaftStatus {
    const conf = this.conf();
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      commitIndex: this.log.committed,
      appliedIndex: this.applied,
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshotIndex,
      conf,
      members: members(conf).map((id) => {
        const pr = this.role === 'leader' ? this.progress.get(id) : undefined;
        return {
          id,
          voter: conf.voters.includes(id),
          ...(pr ? { matchIndex: pr.match, nextIndex: pr.next, state: pr.state } : {}),
        };
      }),
    };
  }

  /** Read-only view for invariant checkers and tests. */
  inspect(): {
    readonly snapshotIndex: number;
    readonly snapshotTerm: number;
    readonly entries: readonly Entry[];
    readonly committed: number;
  } {
    return {
      snapshotIndex: this.log.snapshotIndex,
      snapshotTerm: this.log.snapshotTerm,
      entries: this.log.entriesAfter(this.log.snapshotIndex),
      committed: this.log.committed,
    };
  }

  termAt(index: number): number | undefined {
    return this.log.termAt(index);
  }

  conf(): ConfState {
    return this.confHistory.at(-1)!.conf;
  }

  latestSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  progressOf(id: NodeId): Progress | undefined {
    return this.progress.get(id);
  }

  // ---------------------------------------------------------------- roles

  private becomeFollower(term: number, lead: NodeId | null): void {
    const wasLeader = this.role === 'leader';
    if (term > this.term) {
      this.term = term;
      this.vote = null;
    }
    this.role = 'follower';
    this.lead = lead;
    this.reset();
    if (wasLeader) this.failPendingReads();
  }

  private becomePreCandidate(): void {
    this.role = 'preCandidate';
    this.lead = null;
    this.votes = new Map();
    this.electionElapsedTicks = 0;
    this.resetRandomizedTimeout();
  }

  private becomeCandidate(): void {
    this.term += 1;
    this.vote = this.id;
    this.role = 'candidate';
    this.lead = null;
    this.reset();
  }

  private becomeLeader(): void {
    this.role = 'leader';
    this.lead = this.id;
    this.reset();
    const last = this.log.lastIndex();
    for (const id of members(this.conf())) this.addProgress(id, last + 1);
    // A no-op of the new term lets the leader commit (Figure 8) and learn the commit index (§8).
    this.appendEntry('noop', new Uint8Array(0));
  }

  private reset(): void {
    this.votes = new Map();
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.leadTransferee = null;
    this.progress = new Map();
    this.broadcastPending = false;
    this.incoming = null;
    this.resetRandomizedTimeout();
  }

  private resetRandomizedTimeout(): void {
    this.randomizedElectionTimeoutTicks =
      this.cfg.electionTimeoutTicks + this.random.int(this.cfg.electionTimeoutTicks);
  }

  private addProgress(id: NodeId, next: number): void {
    const pr = new Progress(next, this.cfg.maxInflightAppends, !this.conf().voters.includes(id));
    if (id === this.id) pr.match = Math.min(this.stableIndex, this.log.lastIndex());
    this.progress.set(id, pr);
  }

  // ---------------------------------------------------------------- timers

  private tickElection(): void {
    this.electionElapsedTicks++;
    if (this.promotable() && this.electionElapsedTicks >= this.randomizedElectionTimeoutTicks) {
      this.electionElapsedTicks = 0;
      this.campaign(this.cfg.preVote ? 'pre' : 'vote');
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsedTicks++;
    this.electionElapsedTicks++;
    if (this.electionElapsedTicks >= this.cfg.electionTimeoutTicks) {
      this.electionElapsedTicks = 0;
      if (this.cfg.checkQuorum) {
        if (!this.quorumActive()) {
          // Check-quorum (thesis §6.2): a leader that cannot hear a majority steps down.
          this.becomeFollower(this.term, null);
          return;
        }
      }
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsedTicks >= this.cfg.heartbeatIntervalTicks) {
      this.heartbeatElapsedTicks = 0;
      this.broadcastHeartbeat(this.readOnly.lastContext());
    }
  }

  private quorumActive(): boolean {
    const conf = this.conf();
    let active = 0;
    for (const id of conf.voters) {
      const pr = this.progress.get(id);
      if (id === this.id || pr?.recentActive) active++;
    }
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    return active >= quorumSize(conf);
  }

  private inLease(): boolean {
    return (
      this.cfg.checkQuorum && this.lead !== null && this.electionElapsedTicks < this.cfg.electionTimeoutTicks
    );
  }

  private promotable(): boolean {
    return isVoter(this.conf(), this.id);
  }

  // ---------------------------------------------------------------- elections

  private campaign(kind: 'pre' | 'vote' | 'transfer'): void {
    if (kind === 'pre') this.becomePreCandidate();
    else this.becomeCandidate();
    this.votes.set(this.id, true);
    if (this.tally() === 'won') {
      if (kind === 'pre') this.campaign('vote');
      else this.becomeLeader();
      return;
    }
    const term = kind === 'pre' ? this.term + 1 : this.term;
    for (const to of this.conf().voters) {
      if (to === this.id) continue;
      const req: VoteRequest = {
        type: kind === 'pre' ? 'prevote' : 'vote',
        from: this.id,
        to,
        term,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
        ...(kind === 'transfer' ? { transfer: true } : {}),
      };
      this.msgs.push(req);
    }
  }

  private tally(): 'won' | 'lost' | 'pending' {
    const conf = this.conf();
    let granted = 0;
    let rejected = 0;
    for (const id of conf.voters) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    const q = quorumSize(conf);
    if (granted >= q) return 'won';
    if (rejected >= q) return 'lost';
    return 'pending';
  }

  private handleVoteRequest(m: VoteRequest): void {
    const respType = m.type === 'prevote' ? 'prevoteResp' : 'voteResp';
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.lead === null) ||
      (m.type === 'prevote' && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      // A granted pre-vote answers in the term it was asked for, so the asker can tell it from stale replies.
      this.send({ type: respType, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsedTicks = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, term: this.term, reject: true });
    }
  }

  private handleVoteResponse(m: VoteResponse): void {
    const expected =
      this.role === 'preCandidate' ? 'prevoteResp' : this.role === 'candidate' ? 'voteResp' : null;
    if (m.type !== expected) return;
    this.votes.set(m.from, !m.reject);
    const result = this.tally();
    if (result === 'won') {
      if (this.role === 'preCandidate') this.campaign('vote');
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.term, null);
    }
  }

  // ---------------------------------------------------------------- follower

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
        this.becomeFollowerOf(m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollowerOf(m.from);
        this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
        this.send({
          type: 'heartbeatResp',
          to: m.from,
          term: this.term,
          ...(m.context ? { context: m.context } : {}),
        });
        return;
      case 'snapshot':
        this.becomeFollowerOf(m.from);
        this.handleSnapshotChunk(m);
        return;
      case 'timeoutNow':
        // Leadership transfer (thesis §3.10): campaign at once, bypassing pre-vote and leases.
        if (this.promotable()) this.campaign('transfer');
        return;
      case 'readIndex':
        this.send({ type: 'readIndexResp', to: m.from, term: this.term, context: m.context, index: 0 });
        return;
      case 'readIndexResp':
        this.readStates.push({ context: m.context, index: m.index });
        return;
      default:
        return;
    }
  }

  /** A candidate that hears from a leader of its term, or a follower that does, follows it. */
  private becomeFollowerOf(leader: NodeId): void {
    if (this.role !== 'follower') this.becomeFollower(this.term, leader);
    this.lead = leader;
    this.electionElapsedTicks = 0;
  }

  private handleAppend(m: AppendRequest): void {
    if (m.prevIndex < this.log.committed) {
      this.send({
        type: 'appendResp',
        to: m.from,
        term: this.term,
        reject: false,
        index: this.log.committed,
      });
      return;
    }
    if (this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const lastBefore = this.log.lastIndex();
      const truncatedAt = this.log.appendFromLeader(m.entries);
      if (truncatedAt !== undefined) this.stableIndex = Math.min(this.stableIndex, truncatedAt - 1);
      if (truncatedAt !== undefined) this.confHistory = this.confHistory.filter((c) => c.index < truncatedAt);
      const appendedFrom = Math.min(truncatedAt ?? Infinity, lastBefore + 1);
      for (const e of m.entries) if (e.index >= appendedFrom && e.type === 'config') this.pushConf(e);
      const lastNew = m.prevIndex + m.entries.length;
      this.log.commitTo(Math.min(m.commit, lastNew));
      this.send({ type: 'appendResp', to: m.from, term: this.term, reject: false, index: lastNew });
      return;
    }
    // Fast backtracking (§5.3): tell the leader the term in conflict and where it starts here.
    const resp: AppendResponse =
      m.prevIndex > this.log.lastIndex()
        ? {
            type: 'appendResp',
            from: this.id,
            to: m.from,
            term: this.term,
            reject: true,
            index: m.prevIndex,
            conflictIndex: this.log.lastIndex() + 1,
          }
        : {
            type: 'appendResp',
            from: this.id,
            to: m.from,
            term: this.term,
            reject: true,
            index: m.prevIndex,
            conflictTerm: this.log.termAt(m.prevIndex)!,
            conflictIndex: this.log.firstIndexOfTerm(m.prevIndex),
          };
    this.msgs.push(resp);
  }

  private handleSnapshotChunk(m: SnapshotChunk): void {
    const reply = (offset: number, done: boolean, reject: boolean): void =>
      this.send({ type: 'snapshotResp', to: m.from, term: this.term, offset, done, reject });
    if (m.meta.index <= this.log.committed) {
      this.incoming = null;
      reply(m.meta.index, true, false);
      return;
    }
    if (m.offset === 0) this.incoming = { snapshot: m.meta, chunks: [], received: 0 };
    const inc = this.incoming;
    const same = inc !== null && inc.snapshot.index === m.meta.index && inc.snapshot.term === m.meta.term;
    if (!same || m.offset !== inc.received) {
      reply(same ? inc.received : 0, false, true);
      return;
    }
    inc.chunks.push(m.chunk);
    inc.received += m.chunk.byteLength;
    if (!m.done) {
      reply(inc.received, false, false);
      return;
    }
    this.incoming = null;
    this.restore({ meta: m.meta, data: concat(inc.chunks, inc.received) });
    reply(m.meta.index, true, false);
  }

  /** InstallSnapshot receiver rules (Figure 13): keep the log if it already holds the last included entry. */
  private restore(snapshot: Snapshot): void {
    const { index, term, conf } = snapshot.meta;
    if (this.log.matchTerm(index, term)) {
      this.log.commitTo(index);
      return;
    }
    this.log.restore(index, term);
    this.stableIndex = index;
    this.confHistory = [{ index, conf }];
    this.snapshot = snapshot;
    this.snapshotToInstall = snapshot;
  }

  // ---------------------------------------------------------------- leader

  private stepLeader(m: Message): void {
    switch (m.type) {
      case 'appendResp':
        this.handleAppendResponse(m);
        return;
      case 'heartbeatResp':
        this.handleHeartbeatResponse(m);
        return;
      case 'snapshotResp':
        this.handleSnapshotResponse(m);
        return;
      case 'readIndex':
        this.handleReadIndex(m.context, m.from);
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      if (pr.maybeDecrease(m.index, this.nextFromHint(m))) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, true);
      }
      return;
    }
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === 'probe') pr.becomeReplicate();
      // A follower that caught up past the snapshot being sent (e.g. through an older append) needs no more of it.
      else if (pr.state === 'snapshot' && pr.match >= pr.snapshotIndex) pr.becomeProbe();
      if (this.maybeCommit()) this.broadcastPending = true;
      if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
        this.send({ type: 'timeoutNow', to: m.from, term: this.term });
      }
    }
    // An acknowledgement frees room in the window: keep the pipeline full.
    if (this.role === 'leader') this.sendMore(m.from);
  }

  /** Where to probe next after a reject, from the follower's conflict hints. */
  private nextFromHint(m: AppendResponse): number {
    if (m.conflictTerm !== undefined) {
      const last = this.log.lastIndexOfTerm(m.conflictTerm);
      if (last !== undefined) return last + 1;
    }
    return m.conflictIndex ?? m.index;
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    if (pr.state === 'replicate' && pr.isPaused() && !pr.ackedSinceHeartbeat) {
      // Every append in flight was lost (nothing acked for a heartbeat round): fall back to probing.
      pr.becomeProbe();
    }
    pr.ackedSinceHeartbeat = false;
    if (pr.state === 'snapshot') this.sendSnapshotChunk(m.from, pr);
    else if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
    if (m.context === undefined) return;
    const acks = this.readOnly.ack(m.context, m.from);
    if (!acks) return;
    const conf = this.conf();
    let voters = 0;
    for (const id of acks) if (conf.voters.includes(id)) voters++;
    if (voters < quorumSize(conf)) return;
    for (const read of this.readOnly.release(m.context)) this.answerRead(read.context, read.index, read.from);
  }

  private handleSnapshotResponse(m: SnapshotResponse): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (pr.state !== 'snapshot') return;
    if (m.done && !m.reject) {
      pr.match = Math.max(pr.match, Math.min(pr.snapshotIndex, m.offset));
      pr.becomeProbe();
      this.sendAppend(m.from, true);
      return;
    }
    pr.snapshotOffset = m.offset;
    this.sendSnapshotChunk(m.from, pr);
  }

  private handleReadIndex(context: string, from: NodeId | null): void {
    if (this.log.termAt(this.log.committed) !== this.term) {
      if (this.readsAwaitingCommit.length < this.cfg.maxPendingReads)
        this.readsAwaitingCommit.push({ context, from });
      else this.answerRead(context, 0, from);
      return;
    }
    if (this.conf().voters.length === 1 && isVoter(this.conf(), this.id)) {
      this.answerRead(context, this.log.committed, from);
      return;
    }
    if (!this.readOnly.add(context, this.log.committed, from, this.id)) {
      this.answerRead(context, 0, from);
      return;
    }
    this.broadcastHeartbeat(context);
  }

  private answerRead(context: string, index: number, from: NodeId | null): void {
    if (from === null || from === this.id) this.readStates.push({ context, index });
    else this.send({ type: 'readIndexResp', to: from, term: this.term, context, index });
  }

  private failPendingReads(): void {
    for (const r of this.readOnly.clear()) this.answerRead(r.context, 0, r.from);
    for (const r of this.readsAwaitingCommit) this.answerRead(r.context, 0, r.from);
    this.readsAwaitingCommit = [];
  }

  /** Commit the quorum-replicated index, but only an entry of the current term (§5.4.2, Figure 8). */
  private maybeCommit(): boolean {
    const conf = this.conf();
    const matches = conf.voters.map((id) => this.progress.get(id)?.match ?? 0).sort((a, b) => b - a);
    const index = matches[quorumSize(conf) - 1] ?? 0;
    if (index <= this.log.committed || this.log.termAt(index) !== this.term) return false;
    const firstInTerm = this.log.termAt(this.log.committed) !== this.term;
    this.log.commitTo(index);
    if (firstInTerm) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const r of waiting) this.handleReadIndex(r.context, r.from);
    }
    if (!isVoter(conf, this.id) && this.latestConfIndex() <= this.log.committed) {
      // A leader that removed itself steps down once the change is committed (thesis §4.2.2).
      this.broadcastAppendNow();
      this.becomeFollower(this.term, null);
    }
    return true;
  }

  private refuseProposal(): RaftError | null {
    if (this.role !== 'leader') return { kind: 'notLeader', leaderHint: this.lead };
    if (this.leadTransferee !== null) return { kind: 'transferring', to: this.leadTransferee };
    if (this.log.lastIndex() - this.log.committed >= this.cfg.maxUncommittedEntries)
      return { kind: 'overloaded' };
    return null;
  }

  private appendEntry(type: Entry['type'], data: Uint8Array): number {
    const entry: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    this.log.append([entry]);
    if (type === 'config') {
      this.pushConf(entry);
      this.syncProgressWithConf();
    }
    this.broadcastPending = true;
    return entry.index;
  }

  private syncProgressWithConf(): void {
    const conf = this.conf();
    const all = members(conf);
    for (const id of [...this.progress.keys()]) {
      if (!all.includes(id)) {
        this.progress.delete(id);
        if (this.leadTransferee === id) this.leadTransferee = null;
      }
    }
    for (const id of all) {
      const pr = this.progress.get(id);
      if (pr) pr.isLearner = !conf.voters.includes(id);
      else this.addProgress(id, this.log.lastIndex());
    }
  }

  /** Proposals made together go out in one append per follower (batching). */
  private flush(): void {
    if (this.role !== 'leader' || !this.broadcastPending) return;
    this.broadcastPending = false;
    if (this.maybeCommit() && this.role !== 'leader') return;
    this.broadcastAppendNow();
  }

  private broadcastAppendNow(): void {
    for (const id of this.progress.keys()) {
      if (id === this.id) continue;
      this.sendAppend(id, true);
      this.sendMore(id);
    }
  }

  /** Pipelining: keep sending while the follower is in replicate state and below the in-flight bound. */
  private sendMore(to: NodeId): void {
    const limit = this.cfg.maxInflightAppends;
    let sent = 0;
    while (sent < limit && this.sendAppend(to, false)) sent++;
  }

  private sendAppend(to: NodeId, allowEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (!pr || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.termAt(prevIndex);
    if (prevTerm === undefined) {
      if (!this.snapshot) throw new Error(`raft: no snapshot to send ${to} (next ${pr.next})`);
      pr.becomeSnapshot(this.snapshot.meta.index);
      this.sendSnapshotChunk(to, pr);
      return false;
    }
    const entries =
      pr.next <= this.log.lastIndex()
        ? this.log.slice(
            pr.next,
            this.log.lastIndex(),
            this.cfg.maxEntriesPerAppend,
            this.cfg.maxBytesPerAppend,
          )
        : [];
    if (entries.length === 0 && !allowEmpty) return false;
    this.send({
      type: 'append',
      to,
      term: this.term,
      prevIndex,
      prevTerm,
      entries,
      commit: this.log.committed,
    });
    pr.sentAppend(prevIndex + entries.length, entries.length);
    return entries.length > 0;
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap = this.snapshot;
    if (!snap) return;
    if (pr.snapshotIndex !== snap.meta.index) pr.becomeSnapshot(snap.meta.index);
    const offset = Math.min(pr.snapshotOffset, snap.data.byteLength);
    const chunk = snap.data.subarray(offset, offset + this.cfg.snapshotChunkBytes);
    const done = offset + chunk.byteLength >= snap.data.byteLength;
    this.send({ type: 'snapshot', to, term: this.term, meta: snap.meta, offset, chunk, done });
  }

  private broadcastHeartbeat(context: string | undefined): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'heartbeat', to: id, term: this.term, commit, ...(context ? { context } : {}) });
    }
  }

  // ---------------------------------------------------------------- helpers

  private send(m: DistributiveOmit<Message, 'from'>): void {
    this.msgs.push({ ...m, from: this.id });
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private pushConf(entry: Entry): void {
    const conf = applyConfEntry(this.conf(), decodeConfEntry(entry.data));
    this.confHistory.push({ index: entry.index, conf });
  }

  private latestConfIndex(): number {
    return this.confHistory.at(-1)!.index;
  }

  /** The configuration in force at `index` (the committed one, at the commit index). */
  confAt(index: number): ConfState {
    return this.confHistory.findLast((c) => c.index <= index)?.conf ?? EMPTY_CONF;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function validateChange(
  conf: ConfState,
  change: ConfChange,
  pr: Progress | undefined,
  committed: number,
): string | null {
  const member = conf.voters.includes(change.node) || conf.learners.includes(change.node);
  switch (change.type) {
    case 'addLearner':
      return member ? `${change.node} is already a member` : null;
    case 'promote':
      if (!conf.learners.includes(change.node)) return `${change.node} is not a learner`;
      // Promote only a learner that has caught up, or the cluster stalls while it does (thesis §4.2.1).
      if (!pr || pr.match < committed)
        return `${change.node} has not caught up (match ${pr?.match ?? 0} < ${committed})`;
      return null;
    case 'remove':
      if (!member) return `${change.node} is not a member`;
      if (conf.voters.length === 1 && conf.voters[0] === change.node) return 'cannot remove the last voter';
      return null;
  }
}
