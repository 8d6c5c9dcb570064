import type { Coordination } from './coordination.js';
import { LeaseKeeper } from './lease-keeper.js';

export interface InstanceRecord {
  readonly service: string;
  readonly instanceId: string;
  readonly url: string;
  readonly zone?: string;
  readonly weight?: number;
  readonly meta?: Record<string, unknown>;
}

/**
 * Registers an instance at `services/{service}/{instanceId}` under a lease and keeps it there: when the lease
 * is lost (expired during a pause or a partition) it registers again with a new one. On stop it deregisters and
 * revokes the lease, so the gateway stops routing to it at once rather than after a TTL.
 */
export class ServiceRegistration {
  private keeper: LeaseKeeper | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: Coordination,
    private readonly record: InstanceRecord,
    private readonly ttlSeconds = 10,
    private readonly onEvent: (message: string) => void = () => undefined,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  isRegistered(): boolean {
    return this.keeper !== undefined && !this.keeper.isLost();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const keeper = this.keeper;
    if (keeper !== undefined && !keeper.isLost()) {
      await this.client.deregister(this.record.service, this.record.instanceId).catch(() => undefined);
      await keeper.stop(true);
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const keeper = await LeaseKeeper.grant(this.client, this.ttlSeconds);
        this.keeper = keeper;
        const { service, instanceId, ...value } = this.record;
        await this.client.register(service, instanceId, value, keeper.id);
        this.onEvent(`registered ${service}/${instanceId} under lease ${keeper.id}`);
        failures = 0;
        const reason = await keeper.lost;
        if (this.stopped) return;
        this.onEvent(`registration of ${service}/${instanceId} lost (${reason}); registering again`);
      } catch (error) {
        failures += 1;
        this.onEvent(`registration failed (${(error as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * 2 ** failures)).unref());
      }
    }
  }
}
