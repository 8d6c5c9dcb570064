import { DatabaseModule, MessagingModule } from '@concord/platform';
import { type DynamicModule, Module } from '@nestjs/common';
import { ApiTokenGuard } from './api-token.guard.js';
import { Clock } from './clock.js';
import type { OrdersConfig } from './config.js';
import { ordersMigrations } from './migrations/1767300000000-orders-schema.js';
import { OrderEntity } from './order.entity.js';
import { OrderIds } from './order-ids.js';
import { NatsOrchestratorClient, OrchestratorPort } from './orchestrator.client.js';
import { OrdersHttpController } from './orders.http.controller.js';
import { OrdersNatsController } from './orders.nats.controller.js';
import { OrdersRepository } from './orders.repository.js';
import { OrdersService } from './orders.service.js';
import { PendingOrdersSweeper } from './pending-orders.sweeper.js';
import { SettlementSignal } from './settlement-signal.js';

/**
 * Orders: places orders through the orchestrator and records their verdicts. Coordinator registration and shared
 * configuration plug in here as one more import once the coordinator's client library exists.
 */
@Module({})
export class OrdersModule {
  static register(config: OrdersConfig): DynamicModule {
    return {
      module: OrdersModule,
      imports: [
        DatabaseModule.forRoot({
          url: config.DATABASE_URL,
          poolSize: config.DATABASE_POOL_SIZE,
          entities: [OrderEntity],
          migrations: ordersMigrations,
        }),
        MessagingModule.forRoot(config.NATS_URL),
      ],
      controllers: [OrdersHttpController, OrdersNatsController],
      providers: [
        Clock,
        OrderIds,
        SettlementSignal,
        { provide: OrchestratorPort, useClass: NatsOrchestratorClient },
        OrdersRepository,
        OrdersService,
        PendingOrdersSweeper,
        ApiTokenGuard,
      ],
    };
  }
}
