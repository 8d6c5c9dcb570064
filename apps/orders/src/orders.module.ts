import { DatabaseModule, MessagingModule } from '@concord/platform';
import { type DynamicModule, Module } from '@nestjs/common';
import type { OrdersConfig } from './config.js';

@Module({})
export class OrdersModule {
  static register(config: OrdersConfig): DynamicModule {
    return {
      module: OrdersModule,
      imports: [
        DatabaseModule.forRoot({ url: config.DATABASE_URL, entities: [], migrations: [] }),
        MessagingModule.forRoot(config.NATS_URL),
      ],
    };
  }
}
