import { access, constants, mkdir } from 'node:fs/promises';
import { ReadinessRegistry } from '@concord/platform';
import { type DynamicModule, Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import type { CoordinatorConfig } from './config.js';

const CONFIG = Symbol('COORDINATOR_CONFIG');

@Injectable()
class DataDirReadiness implements OnModuleInit {
  constructor(
    @Inject(CONFIG) private readonly config: CoordinatorConfig,
    private readonly readiness: ReadinessRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    await mkdir(this.config.DATA_DIR, { recursive: true });
    this.readiness.register({
      name: 'data-dir',
      check: () => access(this.config.DATA_DIR, constants.W_OK),
    });
  }
}

@Module({})
export class CoordinatorModule {
  static register(config: CoordinatorConfig): DynamicModule {
    return {
      module: CoordinatorModule,
      providers: [{ provide: CONFIG, useValue: config }, DataDirReadiness],
    };
  }
}
