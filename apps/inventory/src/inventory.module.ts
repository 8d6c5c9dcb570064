import { DatabaseModule, MessagingModule } from '@concord/platform';
import { type DynamicModule, Module } from '@nestjs/common';
import type { InventoryConfig } from './config.js';

@Module({})
export class InventoryModule {
  static register(config: InventoryConfig): DynamicModule {
    return {
      module: InventoryModule,
      imports: [
        DatabaseModule.forRoot({ url: config.DATABASE_URL, entities: [], migrations: [] }),
        MessagingModule.forRoot(config.NATS_URL),
      ],
    };
  }
}
