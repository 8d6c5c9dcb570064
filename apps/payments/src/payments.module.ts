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
import { AccountEntity } from './account.entity.js';
import type { PaymentsConfig } from './config.js';
import { HoldEntity } from './hold.entity.js';
import { LedgerEntryEntity } from './ledger-entry.entity.js';
import { paymentsMigrations } from './migrations/1767300000000-payments-schema.js';
import { PAYMENTS_SUBJECTS, PaymentsCommands } from './payments.commands.js';
import { PaymentsHttpController } from './payments.http.controller.js';
import { PaymentsRepository } from './payments.repository.js';
import { PaymentsService } from './payments.service.js';
import { AccountCache } from './read-cache.js';

export const paymentsEntities = [AccountEntity, HoldEntity, LedgerEntryEntity];

/**
 * Payments: accounts, deposits, holds, captures and the ledger.
 * Registers in the coordinator and follows its shared configuration (serviceCoordination).
 */
@Module({})
export class PaymentsModule {
  static register(config: PaymentsConfig): DynamicModule {
    // The participant service skeleton: NATS handlers for the table of PaymentsCommands.
    const skeleton = participantService({ handlers: PaymentsCommands, subjects: PAYMENTS_SUBJECTS });
    return {
      module: PaymentsModule,
      imports: [
        DatabaseModule.forRoot({
          url: config.DATABASE_URL,
          poolSize: config.DATABASE_POOL_SIZE,
          entities: [...paymentsEntities, ...participantEntities],
          migrations: [...paymentsMigrations, ...participantMigrations],
        }),
        MessagingModule.forRoot(config.NATS_URL, natsCredentials(config)),
        InternalAuthModule.forRoot('payments', config),
        serviceCoordination('payments', config),
        ParticipantModule.forRoot({ service: 'payments' }),
      ],
      controllers: [PaymentsHttpController, ...skeleton.controllers],
      providers: [Clock, AccountCache, PaymentsRepository, PaymentsService, ...skeleton.providers],
    };
  }
}
