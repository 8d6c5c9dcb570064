import { Inject, Injectable } from '@nestjs/common';
import { COORDINATION_CLIENT, type CoordinationClient, SingletonJobHost } from '@concord/coordination-client';
import { APP_CONFIG, type JobFence, Metrics } from '@concord/platform';
import type { OrdersConfig } from './config.js';
import { OrdersService } from './orders.service.js';

/** Orders re-sent per tick; the rest wait for the next tick (bounded work per tick). */
const batchMax = 100;

/**
 * Re-sends `orchestrator.start` for orders left PENDING (the orchestrator was down, or lost them). The start is
 * idempotent (key = order id), so a re-send of an order already running finds the running transaction. A singleton
 * job: one instance at a time holds its lock in the coordinator; its claim on the rows carries the fencing token.
 */
@Injectable()
export class PendingOrdersSweeper extends SingletonJobHost {
  constructor(
    private readonly orders: OrdersService,
    @Inject(APP_CONFIG) config: OrdersConfig,
    @Inject(COORDINATION_CLIENT) coordinator: CoordinationClient | null,
    metrics: Metrics,
  ) {
    super({
      name: 'orders-resend-sweeper',
      service: 'orders',
      config,
      intervalMs: config.ORDER_SWEEP_INTERVAL_MS,
      coordinator,
      metrics,
      claim: (fence) => orders.claimFence(fence),
    });
  }

  protected async pass(fence: JobFence): Promise<number> {
    const resent = await this.orders.resendStale(batchMax, fence);
    if (resent > 0) this.logger.log(`re-sent orchestrator.start for ${resent} PENDING order(s)`);
    return resent;
  }
}
