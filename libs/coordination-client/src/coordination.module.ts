import {
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Coordination } from './coordination.js';
import { type CoordinationBackend, createCoordination } from './create-coordination.js';
import { type InstanceRecord, ServiceRegistration } from './service-registration.js';
import { SharedConfig } from './shared-config.js';

export interface CoordinationModuleOptions {
  /** Coordinator API URLs; empty = run without a coordinator (no registration, defaults for shared config). */
  readonly urls: readonly string[];
  readonly token: string | undefined;
  /** `concord` (default): the coordinator at `urls`; `etcd`: the etcd cluster at `etcdEndpoints`. */
  readonly backend?: CoordinationBackend;
  readonly etcdEndpoints?: readonly string[];
  readonly etcdUsername?: string | undefined;
  readonly etcdPassword?: string | undefined;
  /** Register this instance under a lease (kept alive, re-registered when lost, removed on shutdown). */
  readonly registration?: InstanceRecord;
  /** Follow shared configuration under this prefix, e.g. `config/orders/`. */
  readonly configPrefix?: string;
}

const OPTIONS = Symbol('COORDINATION_OPTIONS');

/** Injected where an app needs the coordination port (Concord or etcd); null when none is configured. */
export const COORDINATION_CLIENT = Symbol('COORDINATION_CLIENT');

@Injectable()
class CoordinationLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Coordination');
  private registration: ServiceRegistration | undefined;

  constructor(
    @Inject(OPTIONS) private readonly options: CoordinationModuleOptions,
    @Inject(COORDINATION_CLIENT) private readonly client: Coordination | null,
    private readonly sharedConfig: SharedConfig,
  ) {}

  /** After the app is ready to serve, so the gateway never routes to an instance still starting. */
  async onApplicationBootstrap(): Promise<void> {
    if (this.client === null) return;
    if (this.options.configPrefix !== undefined) {
      await this.sharedConfig.start().catch((error: unknown) => {
        this.logger.warn(`shared config not loaded yet (${(error as Error).message}); defaults apply`);
      });
    }
    if (this.options.registration !== undefined) {
      this.registration = new ServiceRegistration(this.client, this.options.registration, 10, (m) =>
        this.logger.log(m),
      );
      this.registration.start();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.registration?.stop();
    this.sharedConfig.stop();
    this.client?.close();
  }
}

/** The coordinator client, instance registration and shared configuration for one app. */
@Module({})
export class CoordinationModule {
  static forRoot(options: CoordinationModuleOptions): DynamicModule {
    const client = createCoordination({
      backend: options.backend ?? 'concord',
      urls: options.urls,
      token: options.token,
      etcdEndpoints: options.etcdEndpoints ?? [],
      etcdUsername: options.etcdUsername,
      etcdPassword: options.etcdPassword,
    });
    return {
      module: CoordinationModule,
      global: true,
      providers: [
        { provide: OPTIONS, useValue: options },
        { provide: COORDINATION_CLIENT, useValue: client },
        {
          provide: SharedConfig,
          useFactory: () =>
            client === null
              ? SharedConfig.detached(options.configPrefix ?? 'config/')
              : new SharedConfig(client, options.configPrefix ?? 'config/'),
        },
        CoordinationLifecycle,
      ],
      exports: [COORDINATION_CLIENT, SharedConfig],
    };
  }
}
