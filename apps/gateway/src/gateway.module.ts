import { type DynamicModule, Module } from '@nestjs/common';
import type { GatewayConfig } from './config.js';

@Module({})
export class GatewayModule {
  static register(_config: GatewayConfig): DynamicModule {
    return { module: GatewayModule };
  }
}
