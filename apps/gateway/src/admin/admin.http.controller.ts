import { APP_CONFIG, BearerTokenGuard } from '@concord/platform';
import { Controller, Get, Inject, Injectable, UseGuards } from '@nestjs/common';
import type { GatewayConfig } from '../config.js';
import { GatewayService } from '../gateway.service.js';
import type { RegistryFreshness } from '../upstreams/discovery.js';
import type { ServiceView } from '../upstreams/service-pools.js';

/** Bearer ADMIN_TOKEN, compared in constant time by the platform's guard. */
@Injectable()
export class AdminTokenGuard extends BearerTokenGuard {
  constructor(@Inject(APP_CONFIG) config: GatewayConfig) {
    super([config.ADMIN_TOKEN]);
  }
}

export interface RingsView {
  readonly algorithm: string;
  readonly boundedLoadFactor: number;
  readonly routes: readonly { prefix: string; service: string; public: boolean }[] | 'default';
  readonly services: readonly ServiceView[];
  /** How stale the membership may be: when the coordinator last confirmed the registry view. */
  readonly registry: RegistryFreshness | { readonly source: 'static' };
}

@Controller('admin')
@UseGuards(AdminTokenGuard)
export class AdminController {
  constructor(private readonly gateway: GatewayService) {}

  /** Each service's balancer members with their key share, health, ejection, breaker state and load. */
  @Get('rings')
  rings(): RingsView {
    const table = this.gateway.routes;
    return {
      algorithm: this.gateway.settings.algorithm,
      boundedLoadFactor: this.gateway.settings.boundedLoadFactor,
      routes: table.explicit
        ? table.list().map((r) => ({ prefix: r.prefix, service: r.service, public: r.public }))
        : 'default',
      services: this.gateway.views(),
      registry: this.gateway.registryFreshness() ?? { source: 'static' },
    };
  }
}
