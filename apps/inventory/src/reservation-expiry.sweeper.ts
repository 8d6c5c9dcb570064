import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_CONFIG } from '@concord/platform';
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
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly inventory: InventoryService,
    @Inject(APP_CONFIG) private readonly config: InventoryConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.RESERVATION_SWEEP_INTERVAL_MS === 0) return;
    this.timer = setInterval(() => {
      this.running ??= this.sweep().finally(() => (this.running = undefined));
    }, this.config.RESERVATION_SWEEP_INTERVAL_MS);
    this.timer.unref();
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
    clearInterval(this.timer);
    await this.running;
  }
}
