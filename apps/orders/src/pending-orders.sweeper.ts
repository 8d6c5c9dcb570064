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
export class PendingOrdersSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('PendingOrders');
  private readonly job: SingletonJob;

  constructor(
    private readonly orders: OrdersService,
    @Inject(APP_CONFIG) private readonly config: OrdersConfig,
    @Inject(COORDINATION_CLIENT) coordinator: CoordinationClient | null,
    metrics: Metrics,
  ) {
    this.job = new SingletonJob({
      name: 'orders-resend-sweeper',
      holder: instanceIdentity('orders', config).instanceId,
      intervalMs: config.ORDER_SWEEP_INTERVAL_MS,
      elector: jobElector(coordinator, config.SINGLETON_LEASE_TTL_SECONDS),
      pass: (fence) => this.sweep(fence),
      claim: (fence) => this.orders.claimFence(fence),
      metrics,
      log: (m) => this.logger.log(m),
    });
  }

  onApplicationBootstrap(): void {
    if (this.config.ORDER_SWEEP_INTERVAL_MS > 0) this.job.start();
  }

  async sweep(fence: JobFence): Promise<number> {
    try {
      const resent = await this.orders.resendStale(batchMax, fence);
      if (resent > 0) this.logger.log(`re-sent orchestrator.start for ${resent} PENDING order(s)`);
      return resent;
    } catch (error) {
      if (error instanceof StaleFencingTokenError) throw error; // the term is over: SingletonJob ends it
      this.logger.warn(`pending-orders sweep failed: ${(error as Error).message}`);
      return 0;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.job.stop();
  }
}
