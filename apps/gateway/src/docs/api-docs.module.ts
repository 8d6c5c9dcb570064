import { DOMAIN_SERVICES } from '@concord/contracts';
import { CoordinationClient } from '@concord/coordination-client';
import { type DynamicModule, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { GatewayConfig } from '../config.js';
import { ApiDocsController } from './api-docs.controller.js';
import { CombinedApiDocs } from './combined-api-docs.js';

/** The combined API document at /docs and /docs-json (see ApiDocsController). */
const DOCS_REGISTRY = Symbol('DOCS_REGISTRY');

@Module({})
export class ApiDocsModule implements OnApplicationShutdown {
  constructor(@Inject(DOCS_REGISTRY) private readonly registry: CoordinationClient | null) {}

  onApplicationShutdown(): void {
    this.registry?.close();
  }

  static register(config: GatewayConfig): DynamicModule {
    const registry =
      config.COORDINATOR_URLS.length > 0 && config.COORDINATOR_TOKEN !== undefined
        ? new CoordinationClient({ urls: config.COORDINATOR_URLS, token: config.COORDINATOR_TOKEN })
        : null;
    return {
      module: ApiDocsModule,
      controllers: [ApiDocsController],
      providers: [
        { provide: DOCS_REGISTRY, useValue: registry },
        {
          provide: CombinedApiDocs,
          useValue: new CombinedApiDocs({
            services: DOMAIN_SERVICES.map((s) => s.app),
            registry,
            version: '1',
          }),
        },
      ],
    };
  }
}
