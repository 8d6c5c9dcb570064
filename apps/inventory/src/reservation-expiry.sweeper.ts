import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { COORDINATION_CLIENT, type CoordinationClient, jobElector } from '@concord/coordination-client';
import {
  APP_CONFIG,
  instanceIdentity,
  type JobFence,
  Metrics,
  SingletonJob,
  StaleFencingTokenError,
} from '@concord/platform';
import type { InventoryConfig } from './config.js';
import { InventoryService } from './inventory.service.js';

/** Expired lines released per pass; a pass repeats at once while it finds a full batch. */
const batchMax = 200;
const passesPerTickMax = 10;

/**
 * Releases saga reservations past their expiry, so stock held by a transaction that never finished (its
 * orchestrator gone for good) returns to sale. A singleton job: one instance at a time holds its lock in the
 * coordinator and sweeps; every release carries the lock's fencing token, and the database refuses a stale holder's.
 */
@Injectable()
export class ReservationExpirySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ReservationExpiry');
  private readonly job: SingletonJob;

  constructor(
    private readonly inventory: InventoryService,
    @Inject(APP_CONFIG) private readonly config: InventoryConfig,
    @Inject(COORDINATION_CLIENT) coordinator: CoordinationClient | null,
    metrics: Metrics,
  ) {
    this.job = new SingletonJob({
      name: 'inventory-reservation-expiry',
      holder: instanceIdentity('inventory', config).instanceId,
      intervalMs: config.RESERVATION_SWEEP_INTERVAL_MS,
      elector: jobElector(coordinator, config.SINGLETON_LEASE_TTL_SECONDS),
      pass: (fence) => this.sweep(fence),
      claim: (fence) => this.inventory.claimFence(fence),
      metrics,
      log: (m) => this.logger.log(m),
    });
  }

  onApplicationBootstrap(): void {
    if (this.intervalMs > 0) this.job.start();
  }

  private get intervalMs(): number {
    return this.config.RESERVATION_SWEEP_INTERVAL_MS;
  }

  /** One tick: releases expired reservations in bounded batches, under the job's fencing token. */
  async sweep(fence: JobFence): Promise<number> {
    let expiredTotal = 0;
    try {
      for (let pass = 0; pass < passesPerTickMax; pass += 1) {
        const skus = await this.inventory.expireDue(batchMax, fence);
        expiredTotal += skus.length;
        if (skus.length < batchMax) break;
      }
      if (expiredTotal > 0) this.logger.log(`released expired reservations on ${expiredTotal} sku line(s)`);
    } catch (error) {
      if (error instanceof StaleFencingTokenError) throw error; // the term is over: SingletonJob ends it
      this.logger.warn(`expiry sweep failed: ${(error as Error).message}`);
    }
    return expiredTotal;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.job.stop();
  }
}
