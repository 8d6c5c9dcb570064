import { serviceCoordination } from '@concord/coordination-client';
import {
  Clock,
  DatabaseModule,
  InternalAuthModule,
  MessagingModule,
  natsCredentials,
} from '@concord/platform';
import {
  ParticipantModule,
  participantEntities,
  participantMigrations,
  participantService,
} from '@concord/saga';
import { type DynamicModule, Module } from '@nestjs/common';
import type { InventoryConfig } from './config.js';
import { INVENTORY_SUBJECTS, InventoryCommands } from './inventory.commands.js';
import { InventoryHttpController } from './inventory.http.controller.js';
import { InventoryRepository } from './inventory.repository.js';
import { InventoryService } from './inventory.service.js';
import { inventoryMigrations } from './migrations/1767300000000-inventory-schema.js';
import { ProductEntity } from './product.entity.js';
import { ProductCache } from './read-cache.js';
import { ReceiptEntity } from './receipt.entity.js';
import { ReservationEntity } from './reservation.entity.js';
import { ReservationExpirySweeper } from './reservation-expiry.sweeper.js';

export const inventoryEntities = [ProductEntity, ReceiptEntity, ReservationEntity];

/**
 * Inventory: products, receipts, reservations. Registers in the coordinator and follows its shared configuration (serviceCoordination).
 */
@Module({})
export class InventoryModule {
  static register(config: InventoryConfig): DynamicModule {
    // The participant service skeleton: NATS handlers for the table of InventoryCommands.
    const skeleton = participantService({ handlers: InventoryCommands, subjects: INVENTORY_SUBJECTS });
    return {
      module: InventoryModule,
      imports: [
        DatabaseModule.forRoot({
          url: config.DATABASE_URL,
          poolSize: config.DATABASE_POOL_SIZE,
          entities: [...inventoryEntities, ...participantEntities],
          migrations: [...inventoryMigrations, ...participantMigrations],
        }),
        MessagingModule.forRoot(config.NATS_URL, natsCredentials(config)),
        InternalAuthModule.forRoot('inventory', config),
        serviceCoordination('inventory', config),
        ParticipantModule.forRoot({ service: 'inventory' }),
      ],
      controllers: [InventoryHttpController, ...skeleton.controllers],
      providers: [
        Clock,
        ProductCache,
        InventoryRepository,
        InventoryService,
        ReservationExpirySweeper,
        ...skeleton.providers,
      ],
    };
  }
}
