import { type DynamicModule, Module } from '@nestjs/common';
import { AdminController, AdminTokenGuard } from './admin/admin.http.controller.js';
import type { GatewayConfig } from './config.js';
import { ApiDocsModule } from './docs/api-docs.module.js';
import { ConsoleProxyController } from './console/console-proxy.controller.js';
import { GatewayService } from './gateway.service.js';

/**
 * The gateway: admin endpoints as a Nest controller; the proxy path as a Fastify route registered by main.ts
 * (see proxy/proxy.handler.ts for why); the state both read in {@link GatewayService}.
 */
@Module({})
export class GatewayModule {
  static register(config: GatewayConfig): DynamicModule {
    return {
      module: GatewayModule,
      imports: [ApiDocsModule.register(config)],
      controllers: [AdminController, ConsoleProxyController],
      providers: [GatewayService, AdminTokenGuard],
      exports: [GatewayService],
    };
  }
}
