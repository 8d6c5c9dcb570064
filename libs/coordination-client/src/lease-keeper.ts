import type { Coordination } from './coordination.js';

/**
 * Keeps a lease alive (a keep-alive every TTL/3). Reports the loss once: when the coordinator says the lease
 * is gone, or when no keep-alive has succeeded for a whole TTL (the lease must then be presumed expired, and
 * whatever it guarded — a lock, a leadership — presumed lost).
 */
export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  private lastSuccessMs: number;
  private stopped = false;
  private lostReported = false;
  readonly lost: Promise<string>;
  private reportLost!: (reason: string) => void;

  constructor(
    private readonly client: Coordination,
    readonly id: string,
    readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastSuccessMs = now();
    this.lost = new Promise((resolve) => (this.reportLost = resolve));
  }

  static async grant(client: Coordination, ttlSeconds: number): Promise<LeaseKeeper> {
    const lease = await client.grantLease(ttlSeconds);
    const keeper = new LeaseKeeper(client, lease.id, lease.ttlSeconds);
    keeper.start();
    return keeper;
  }

  start(): void {
    const intervalMs = Math.max(200, (this.ttlSeconds * 1000) / 3);
    this.timer = setInterval(() => void this.beat(), intervalMs);
    this.timer.unref();
  }

  isLost(): boolean {
    return this.lostReported;
  }

  async stop(revoke = true): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    if (revoke && !this.lostReported) await this.client.revokeLease(this.id).catch(() => undefined);
  }

  private async beat(): Promise<void> {
    if (this.stopped || this.lostReported) return;
    try {
      const ttl = await this.client.keepAlive(this.id);
      if (ttl === null) return this.lose('the coordinator reports the lease expired');
      this.lastSuccessMs = this.now();
    } catch {
      if (this.now() - this.lastSuccessMs >= this.ttlSeconds * 1000) {
        this.lose(`no keep-alive succeeded for ${this.ttlSeconds} s`);
      }
    }
  }

  private lose(reason: string): void {
    if (this.lostReported) return;
    this.lostReported = true;
    clearInterval(this.timer);
    this.reportLost(reason);
  }
}
