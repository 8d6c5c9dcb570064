import { Inject, Injectable } from '@nestjs/common';
import { SagaLog } from './saga-log.js';

export interface LeadershipChange {
  readonly leader: boolean;
  readonly fencingToken: number;
}

/**
 * Who may drive sagas, and with which fencing token. Contract:
 * - `isLeader()` is true only between a `{leader: true}` event and the next `{leader: false}` one;
 * - `fencingToken()` is the token of the current (or last) term; tokens strictly increase across terms and are
 *   recorded in the log's `saga_leadership` row when a term starts, so writes of an older term are refused there;
 * - `deposed()` is called by the runtime when the database refused its token: the term is over.
 *
 * {@link SingleInstanceLeadership} is the implementation until the coordinator lands. A coordinator-backed one
 * campaigns in `elections/orchestrator` with a lease, takes the election term (or the lock's fencing token) as
 * its token, calls `SagaLog.adoptFencingToken` before announcing `{leader: true}`, and announces
 * `{leader: false}` when its lease is lost. The runtime does not change.
 */
export interface LeadershipPort {
  /**
   * Begins taking part. Alone ({@link SingleInstanceLeadership}): claims a token and leads before it resolves.
   * Through the coordinator: campaigns in the background and resolves at once; leadership arrives by `onChange`.
   */
  start(): Promise<void>;
  /** Ends taking part: gives up a term it holds (announcing `{leader: false}`) and stops campaigning. */
  stop(): Promise<void>;
  isLeader(): boolean;
  fencingToken(): number;
  onChange(listener: (change: LeadershipChange) => void): () => void;
  deposed(): void;
}

export const LEADERSHIP = Symbol('LEADERSHIP');
export const LEADERSHIP_HOLDER = Symbol('LEADERSHIP_HOLDER');

/**
 * One orchestrator instance leads alone: at start it claims the next token from the log, so a restarted
 * instance fences out its own previous incarnation (e.g. one that was frozen and wakes up).
 */
@Injectable()
export class SingleInstanceLeadership implements LeadershipPort {
  private leader = false;
  private token = 0;
  private readonly listeners = new Set<(change: LeadershipChange) => void>();

  constructor(
    private readonly log: SagaLog,
    @Inject(LEADERSHIP_HOLDER) private readonly holder: string,
  ) {}

  async campaign(): Promise<void> {
    this.token = await this.log.claimFencingToken(this.holder);
    this.leader = true;
    this.emit();
  }

  start(): Promise<void> {
    return this.campaign();
  }

  async stop(): Promise<void> {
    this.deposed();
  }

  isLeader(): boolean {
    return this.leader;
  }

  fencingToken(): number {
    return this.token;
  }

  onChange(listener: (change: LeadershipChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  deposed(): void {
    if (!this.leader) return;
    this.leader = false;
    this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) listener({ leader: this.leader, fencingToken: this.token });
  }
}
