import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit, Logger } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type NatsOptions, Transport } from '@nestjs/microservices';
import { natsInboxPrefix } from '@concord/contracts';
import { ConfigError } from '../config/config.js';
import { ReadinessRegistry } from '../health/readiness.js';

export const NATS_URL = Symbol('NATS_URL');
export const NATS_CREDENTIALS = Symbol('NATS_CREDENTIALS');

/** A NATS user and password, and the inbox prefix that user's permissions allow it to subscribe to. */
export interface NatsCredentials {
  readonly user: string;
  readonly pass: string;
  readonly inboxPrefix: string;
}

/** NATS_USER and NATS_PASSWORD of a service's configuration (both or neither). */
export function natsCredentials(config: {
  NATS_USER?: string | undefined;
  NATS_PASSWORD?: string | undefined;
}): NatsCredentials | undefined {
  if (config.NATS_USER === undefined && config.NATS_PASSWORD === undefined) return undefined;
  if (config.NATS_USER === undefined || config.NATS_PASSWORD === undefined) {
    throw new ConfigError([
      { variable: 'NATS_USER', problem: 'NATS_USER and NATS_PASSWORD must be set together' },
    ]);
  }
  return {
    user: config.NATS_USER,
    pass: config.NATS_PASSWORD,
    inboxPrefix: natsInboxPrefix(config.NATS_USER),
  };
}

/** Options for the app's NATS listener: request/reply with a queue group per service. */
export function natsListener(url: string, queue: string, credentials?: NatsCredentials): NatsOptions {
  return { transport: Transport.NATS, options: { servers: [url], queue, name: queue, ...credentials } };
}

/**
 * A NATS connection of the app's own, used for readiness (a PING round trip) and for publishing.
 * It reconnects forever; readiness says when it cannot.
 */
@Injectable()
export class NatsConnectionHolder implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('Nats');
  private connection: NatsConnection | undefined;

  constructor(
    @Inject(NATS_URL) private readonly url: string,
    private readonly readiness: ReadinessRegistry,
    @Inject(NATS_CREDENTIALS) private readonly credentials: NatsCredentials | null,
  ) {}

  async onModuleInit(): Promise<void> {
    this.readiness.register({ name: 'nats', check: () => this.ping() });
    try {
      this.connection = await this.open();
    } catch (error) {
      // Not fatal: readiness reports it, and the next check tries again.
      this.logger.warn(`NATS at ${this.url} not reachable yet: ${(error as Error).message}`);
    }
  }

  async get(): Promise<NatsConnection> {
    if (this.connection === undefined || this.connection.isClosed()) this.connection = await this.open();
    return this.connection;
  }

  private async open(): Promise<NatsConnection> {
    return connect({
      servers: [this.url],
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 2_000,
      ...this.credentials,
    });
  }

  private async ping(): Promise<void> {
    const connection = await this.get();
    await connection.flush();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection?.drain().catch(() => undefined);
  }
}
