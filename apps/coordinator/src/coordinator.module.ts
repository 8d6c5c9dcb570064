import { Coordinator, type Consensus } from '@concord/coordination';
import { ReadinessRegistry } from '@concord/platform';
import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { CLUSTER_ADMIN, type ClusterAdmin } from './api/cluster-admin.js';
import { ClientAuthGuard } from './api/client-auth.guard.js';
import { CoordinatorErrorsFilter } from './api/coordinator-errors.filter.js';
import { FaultsHttpController, PEER_FAULTS, type PeerFaults } from './api/faults.http.controller.js';
import { KvHttpController } from './api/kv.http.controller.js';
import { LeasesHttpController } from './api/leases.http.controller.js';
import { RegistryHttpController } from './api/registry.http.controller.js';
import { KvStateMachineHolder } from './api/state.js';
import { WatchStreams } from './api/watch-streams.js';
import { TokenDirectory } from './api/access.js';
import { CONSENSUS, COORDINATOR_CONFIG, TOKEN_DIRECTORY } from './api/tokens.js';
import type { CoordinatorConfig } from './config.js';
import { RaftMetrics } from './raft/raft.metrics.js';

/** What runs consensus for this node: Raft in production (see raft/), a local stand-in in API tests. */
export interface ConsensusBinding {
  readonly consensus: Consensus;
  readonly cluster: ClusterAdmin;
  /** The transport's fault switch; only with FAULT_INJECTION=true. */
  readonly faults?: PeerFaults;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Ready when the node knows a leader and has applied what it committed. */
  ready(): Promise<void>;
}

export type ConsensusFactory = (config: CoordinatorConfig, state: KvStateMachineHolder) => ConsensusBinding;

const BINDING = Symbol('CONSENSUS_BINDING');

@Injectable()
class CoordinatorLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(BINDING) private readonly binding: ConsensusBinding,
    private readonly coordinator: Coordinator,
    private readonly readiness: ReadinessRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.binding.start();
    this.coordinator.start();
    this.readiness.register({ name: 'raft', check: () => this.binding.ready() });
  }

  async onApplicationShutdown(): Promise<void> {
    this.coordinator.stop();
    await this.binding.stop();
  }
}

@Module({})
export class CoordinatorModule {
  static register(config: CoordinatorConfig, consensusFactory: ConsensusFactory): DynamicModule {
    return {
      module: CoordinatorModule,
      controllers: [
        KvHttpController,
        LeasesHttpController,
        RegistryHttpController,
        ...(config.FAULT_INJECTION ? [FaultsHttpController] : []),
      ],
      providers: [
        { provide: COORDINATOR_CONFIG, useValue: config },
        { provide: TOKEN_DIRECTORY, useValue: new TokenDirectory(config) },
        KvStateMachineHolder,
        {
          provide: BINDING,
          inject: [KvStateMachineHolder],
          useFactory: (state: KvStateMachineHolder) => consensusFactory(config, state),
        },
        { provide: CONSENSUS, inject: [BINDING], useFactory: (b: ConsensusBinding) => b.consensus },
        { provide: CLUSTER_ADMIN, inject: [BINDING], useFactory: (b: ConsensusBinding) => b.cluster },
        { provide: PEER_FAULTS, inject: [BINDING], useFactory: (b: ConsensusBinding) => b.faults ?? null },
        {
          provide: Coordinator,
          inject: [KvStateMachineHolder, CONSENSUS],
          useFactory: (state: KvStateMachineHolder, consensus: Consensus) =>
            new Coordinator(state.machine, consensus, {
              leaseCheckIntervalMs: config.LEASE_CHECK_INTERVAL_MS,
              compactionIntervalMs: config.COMPACTION_INTERVAL_MS,
              historyEventsMax: config.HISTORY_EVENTS_MAX,
              historyBytesMax: config.HISTORY_BYTES_MAX,
            }),
        },
        ClientAuthGuard,
        CoordinatorErrorsFilter,
        CoordinatorLifecycle,
        WatchStreams,
        RaftMetrics,
      ],
    };
  }
}
