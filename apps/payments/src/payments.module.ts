import { DatabaseModule, MessagingModule } from '@concord/platform';
import { type DynamicModule, Module } from '@nestjs/common';
import type { PaymentsConfig } from './config.js';

@Module({})
export class PaymentsModule {
  static register(config: PaymentsConfig): DynamicModule {
    return {
      module: PaymentsModule,
      imports: [
        DatabaseModule.forRoot({ url: config.DATABASE_URL, entities: [], migrations: [] }),
        MessagingModule.forRoot(config.NATS_URL),
      ],
    };
  }
}
