import { DatabaseModule, MessagingModule } from '@concord/platform';
import { type DynamicModule, Module } from '@nestjs/common';
import type { OrchestratorConfig } from './config.js';

@Module({})
export class OrchestratorModule {
  static register(config: OrchestratorConfig): DynamicModule {
    return {
      module: OrchestratorModule,
      imports: [
        DatabaseModule.forRoot({ url: config.DATABASE_URL, entities: [], migrations: [] }),
        MessagingModule.forRoot(config.NATS_URL),
      ],
    };
  }
}
