import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_CONFIG, PeriodicTask } from '@concord/platform';
import type { OrdersConfig } from './config.js';
import { OrdersService } from './orders.service.js';

/** Orders re-sent per tick; the rest wait for the next tick (bounded work per tick). */
const batchMax = 100;

/**
 * Re-sends `orchestrator.start` for orders left PENDING (the orchestrator was down, or lost them). The start is
 * idempotent (key = order id), so a re-send of an order already running finds the running transaction.
 */
@Injectable()
export class PendingOrdersSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('PendingOrders');
  private readonly task: PeriodicTask;

  constructor(
    private readonly orders: OrdersService,
    @Inject(APP_CONFIG) config: OrdersConfig,
  ) {
    this.task = new PeriodicTask(config.ORDER_SWEEP_INTERVAL_MS, () => this.sweep());
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  async sweep(): Promise<number> {
    try {
      const resent = await this.orders.resendStale(batchMax);
      if (resent > 0) this.logger.log(`re-sent orchestrator.start for ${resent} PENDING order(s)`);
      return resent;
    } catch (error) {
      this.logger.warn(`pending-orders sweep failed: ${(error as Error).message}`);
      return 0;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task.stop();
  }
}
