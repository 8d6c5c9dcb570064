import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_CONFIG, PeriodicTask } from '@concord/platform';
import type { InventoryConfig } from './config.js';
import { InventoryService } from './inventory.service.js';

/** Expired lines released per pass; a pass repeats at once while it finds a full batch. */
const batchMax = 200;
const passesPerTickMax = 10;

/**
 * Releases saga reservations past their expiry, so stock held by a transaction that never finished (its
 * orchestrator gone for good) returns to sale. Every instance runs it; SKIP LOCKED keeps them apart.
 */
@Injectable()
export class ReservationExpirySweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ReservationExpiry');
  private readonly task: PeriodicTask;

  constructor(
    private readonly inventory: InventoryService,
    @Inject(APP_CONFIG) config: InventoryConfig,
  ) {
    this.task = new PeriodicTask(config.RESERVATION_SWEEP_INTERVAL_MS, () => this.sweep());
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  /** One tick: releases expired reservations in bounded batches. */
  async sweep(): Promise<number> {
    let expiredTotal = 0;
    try {
      for (let pass = 0; pass < passesPerTickMax; pass += 1) {
        const skus = await this.inventory.expireDue(batchMax);
        expiredTotal += skus.length;
        if (skus.length < batchMax) break;
      }
      if (expiredTotal > 0) this.logger.log(`released expired reservations on ${expiredTotal} sku line(s)`);
    } catch (error) {
      this.logger.warn(`expiry sweep failed: ${(error as Error).message}`);
    }
    return expiredTotal;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task.stop();
  }
}
