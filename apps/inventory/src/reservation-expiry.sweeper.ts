import { Inject, Injectable } from '@nestjs/common';
import { COORDINATION_CLIENT, type CoordinationClient, SingletonJobHost } from '@concord/coordination-client';
import { APP_CONFIG, type JobFence, Metrics } from '@concord/platform';
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
export class ReservationExpirySweeper extends SingletonJobHost {
  constructor(
    private readonly inventory: InventoryService,
    @Inject(APP_CONFIG) config: InventoryConfig,
    @Inject(COORDINATION_CLIENT) coordinator: CoordinationClient | null,
    metrics: Metrics,
  ) {
    super({
      name: 'inventory-reservation-expiry',
      service: 'inventory',
      config,
      intervalMs: config.RESERVATION_SWEEP_INTERVAL_MS,
      coordinator,
      metrics,
      claim: (fence) => inventory.claimFence(fence),
    });
  }

  /** One tick: releases expired reservations in bounded batches, under the job's fencing token. */
  protected async pass(fence: JobFence): Promise<number> {
    let expiredTotal = 0;
    for (let pass = 0; pass < passesPerTickMax; pass += 1) {
      const skus = await this.inventory.expireDue(batchMax, fence);
      expiredTotal += skus.length;
      if (skus.length < batchMax) break;
    }
    if (expiredTotal > 0) this.logger.log(`released expired reservations on ${expiredTotal} sku line(s)`);
    return expiredTotal;
  }
}
