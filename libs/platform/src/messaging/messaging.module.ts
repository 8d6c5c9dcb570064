import { type DynamicModule, Module } from '@nestjs/common';
import { NATS_CREDENTIALS, NATS_URL, NatsConnectionHolder, type NatsCredentials } from './nats.js';

@Module({})
export class MessagingModule {
  static forRoot(url: string, credentials?: NatsCredentials): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [
        { provide: NATS_URL, useValue: url },
        { provide: NATS_CREDENTIALS, useValue: credentials ?? null },
        NatsConnectionHolder,
      ],
      exports: [NatsConnectionHolder],
    };
  }
}
