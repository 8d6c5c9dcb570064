import { OrchestratorMetrics } from './orchestrator.metrics.js';
import { COORDINATION_CLIENT, type Coordination, serviceCoordination } from '@concord/coordination-client';
import { LeaderRelay } from './leader-relay.js';
import {
  DatabaseModule,
  InternalAuthModule,
  MessagingModule,
  natsCredentials,
  NatsConnectionHolder,
  APP_IDENTITY,
  type AppIdentity,
} from '@concord/platform';
import {
  LEADERSHIP,
  LEADERSHIP_HOLDER,
  natsCommandSender,
  orchestratorEntities,
  orchestratorMigrations,
  SagaLog,
  SagaRuntime,
  SingleInstanceLeadership,
  CoordinatorLeadership,
  OrchestratorLifecycle,
  type LeadershipPort,
} from '@concord/saga';
import { type DynamicModule, Logger, Module } from '@nestjs/common';
import type { OrchestratorConfig } from './config.js';
import { OrchestratorBoot } from './orchestrator.boot.js';
import { SagasHttpController, TransactionsHttpController } from './sagas.http.controller.js';
import { OrchestratorNatsController } from './orchestrator.nats.controller.js';
import { SagasService } from './sagas.service.js';
import { orchestratorWorkflows } from './workflows/registry.js';

@Module({})
export class OrchestratorModule {
  static register(config: OrchestratorConfig): DynamicModule {
    const timing = {
      attemptTimeoutMs: config.SAGA_ATTEMPT_TIMEOUT_MS,
      stepDeadlineMs: config.SAGA_STEP_DEADLINE_MS,
      retriableTimeoutMs: config.SAGA_RETRIABLE_TIMEOUT_MS,
    };
    return {
      module: OrchestratorModule,
      imports: [
        DatabaseModule.forRoot({
          url: config.DATABASE_URL,
          entities: orchestratorEntities,
          migrations: orchestratorMigrations,
        }),
        MessagingModule.forRoot(config.NATS_URL, natsCredentials(config)),
        InternalAuthModule.forRoot('orchestrator', config),
        serviceCoordination('orchestrator', config),
      ],
      controllers: [SagasHttpController, TransactionsHttpController, OrchestratorNatsController],
      providers: [
        SagaLog,
        {
          provide: LEADERSHIP_HOLDER,
          useFactory: (identity: AppIdentity) => identity.instanceId,
          inject: [APP_IDENTITY],
        },
        {
          provide: LEADERSHIP,
          inject: [SagaLog, LEADERSHIP_HOLDER, COORDINATION_CLIENT],
          useFactory: (log: SagaLog, holder: string, client: Coordination | null) =>
            client === null
              ? new SingleInstanceLeadership(log, holder)
              : new CoordinatorLeadership(client, log, {
                  election: 'orchestrator',
                  holder,
                  ttlSeconds: config.LEADER_LEASE_TTL_SECONDS,
                }),
        },
        LeaderRelay,
        OrchestratorMetrics,
        {
          provide: SagaRuntime,
          useFactory: (
            log: SagaLog,
            leadership: LeadershipPort,
            nats: NatsConnectionHolder,
            metrics: OrchestratorMetrics,
          ) =>
            new SagaRuntime(
              log,
              leadership,
              natsCommandSender(() => nats.get()),
              orchestratorWorkflows(timing),
              { logger: new Logger('SagaRuntime'), ...metrics.runtimeHooks() },
            ),
          inject: [SagaLog, LEADERSHIP, NatsConnectionHolder, OrchestratorMetrics],
        },
        {
          provide: OrchestratorLifecycle,
          useFactory: (
            runtime: SagaRuntime,
            leadership: LeadershipPort,
            log: SagaLog,
            nats: NatsConnectionHolder,
          ) =>
            new OrchestratorLifecycle(
              runtime,
              leadership,
              log,
              () => nats.get(),
              config.OUTBOX_RELAY_INTERVAL_MS,
              config.OUTBOX_STREAM_REPLICAS,
            ),
          inject: [SagaRuntime, LEADERSHIP, SagaLog, NatsConnectionHolder],
        },
        OrchestratorBoot,
        SagasService,
      ],
    };
  }
}
