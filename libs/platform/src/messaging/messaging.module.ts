import { type DynamicModule, Module } from '@nestjs/common';
import { NATS_URL, NatsConnectionHolder } from './nats.js';

@Module({})
export class MessagingModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [{ provide: NATS_URL, useValue: url }, NatsConnectionHolder],
      exports: [NatsConnectionHolder],
    };
  }
}
