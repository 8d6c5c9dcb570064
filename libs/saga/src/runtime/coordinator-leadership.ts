import { type Coordination, LeaseKeeper } from '@concord/coordination-client';
import { Logger } from '@nestjs/common';
import type { LeadershipChange, LeadershipPort } from './leadership.js';
import type { SagaLog } from './saga-log.js';

export interface CoordinatorLeadershipOptions {
  /** Election name in the coordinator (`elections/{name}/...`). */
  readonly election: string;
  /** This instance's id: the campaign value and the log's leadership holder. */
  readonly holder: string;
  /** Lease TTL: how long a frozen leader keeps leading before another may take over. */
  readonly ttlSeconds: number;
}

/**
 * Leadership through the coordinator: each instance campaigns in `elections/{election}` with a lease; the
 * winner's fencing token is the election term (the key's create revision, strictly increasing) raised past
 * whatever the log has seen, and claimed in the log before any write. When the lease is lost (a pause longer
 * than the TTL, a partition) the term is over: the instance stops driving at once and campaigns again. A
 * deposed leader that has not noticed yet is refused by the log (its token is older), never obeyed.
 */
export class CoordinatorLeadership implements LeadershipPort {
  private readonly logger = new Logger('Leadership');
  private readonly listeners = new Set<(change: LeadershipChange) => void>();
  private leader = false;
  private token = 0;
  private keeper: LeaseKeeper | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private endTerm: (() => void) | undefined;

  constructor(
    private readonly client: Coordination,
    private readonly log: SagaLog,
    private readonly options: CoordinatorLeadershipOptions,
  ) {}

  /** Starts campaigning in the background; leadership changes arrive through `onChange`. */
  async start(): Promise<void> {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.endTerm?.();
    await this.keeper?.stop(true);
    await this.loop;
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
    this.endTerm?.();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        // One lease per candidacy. A campaign whose answer was lost is retried with the same lease: the
        // candidate key is derived from it, so the retry finds its own place in line instead of queueing a
        // second key that nobody would ever resign.
        if (this.keeper === undefined || this.keeper.isLost()) {
          await this.keeper?.stop(true);
          this.keeper = await LeaseKeeper.grant(this.client, this.options.ttlSeconds);
        }
        const keeper = this.keeper;
        const won = await this.client.campaign(this.options.election, keeper.id, this.options.holder);
        if (keeper.isLost() || this.stopped) continue;
        // The election term ranks leaders; the log's counter also covers tokens claimed before (or without) it.
        this.token = await this.log.claimFencingToken(this.options.holder, won.term);
        this.setLeader(true);
        this.logger.log(
          `leading ${this.options.election} with fencing token ${this.token} (term ${won.term})`,
        );
        failures = 0;
        const reason = await Promise.race([
          keeper.lost,
          new Promise<string>(
            (resolve) => (this.endTerm = () => resolve('deposed: the log refused this token')),
          ),
        ]);
        this.setLeader(false);
        this.logger.warn(`leadership of ${this.options.election} ended: ${reason}`);
        await this.client.resign(this.options.election, won.key).catch(() => undefined);
        // A fresh lease for the next candidacy; revoking this one also removes any key still bound to it.
        await keeper.stop(true);
        this.keeper = undefined;
      } catch (error) {
        this.setLeader(false);
        failures += 1;
        if (!this.stopped) this.logger.warn(`campaign failed (${(error as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * 2 ** failures)).unref());
      }
    }
  }

  private setLeader(leader: boolean): void {
    if (this.leader === leader) return;
    this.leader = leader;
    for (const listener of this.listeners) listener({ leader, fencingToken: this.token });
  }
}
