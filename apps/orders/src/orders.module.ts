import { serviceCoordination } from '@concord/coordination-client';
import {
  Clock,
  DatabaseModule,
  InternalAuthModule,
  MessagingModule,
  natsCredentials,
} from '@concord/platform';
import { type DynamicModule, Module } from '@nestjs/common';
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
import { NatsSettlementPeers } from './settlement-peers.nats.js';
import { SettlementPeers, SettlementSignal } from './settlement-signal.js';

/**
 * Orders: places orders through the orchestrator and records their verdicts.
 * Registers in the coordinator and follows its shared configuration (serviceCoordination).
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
        MessagingModule.forRoot(config.NATS_URL, natsCredentials(config)),
        InternalAuthModule.forRoot('orders', config),
        serviceCoordination('orders', config),
      ],
      controllers: [OrdersHttpController, OrdersNatsController],
      providers: [
        Clock,
        OrderIds,
        { provide: SettlementPeers, useClass: NatsSettlementPeers },
        SettlementSignal,
        { provide: OrchestratorPort, useClass: NatsOrchestratorClient },
        OrdersRepository,
        OrdersService,
        PendingOrdersSweeper,
      ],
    };
  }
}
