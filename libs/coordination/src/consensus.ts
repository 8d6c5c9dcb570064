import type { Command, CommandResult } from './commands.js';

/** The node that can serve this request is another one (the leader); the API forwards there. */
export class NotLeaderError extends Error {
  constructor(readonly leaderId: string | null) {
    // A routing signal on every forwarded write, not a bug: no stack trace (capturing one cost ~4 % of a
    // follower's CPU under puts, measured with --cpu-prof).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(leaderId === null ? 'no leader is known' : `the leader is ${leaderId}`);
    Error.stackTraceLimit = limit;
    this.name = 'NotLeaderError';
  }
}

/** No answer can be given right now without risking a wrong one (no leader, no quorum): 503 + Retry-After. */
export class UnavailableError extends Error {
  /**
   * `notApplied`: refused before anything was proposed, safe to retry any request. `unknown`: proposed but not
   * committed in time; it may still commit, so only idempotent requests may be retried blindly.
   */
  constructor(
    message: string,
    readonly outcome: 'notApplied' | 'unknown' = 'notApplied',
  ) {
    super(message);
    this.name = 'UnavailableError';
  }
}

/**
 * What the coordinator needs from consensus. The Raft-backed implementation lives in apps/coordinator;
 * tests use a single-node one that applies at once.
 */
export interface Consensus {
  /** Replicates the command and resolves with its result once applied on this node. Leader only. */
  propose(command: Command): Promise<CommandResult>;
  /** Resolves once this node's state includes every write committed before the call (ReadIndex). */
  readBarrier(): Promise<void>;
  isLeader(): boolean;
  leaderId(): string | null;
  onLeadershipChange(listener: (leading: boolean) => void): void;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
