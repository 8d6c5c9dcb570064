import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit, Logger } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type NatsOptions, Transport } from '@nestjs/microservices';
import { ReadinessRegistry } from '../health/readiness.js';

export const NATS_URL = Symbol('NATS_URL');

/** Options for the app's NATS listener: request/reply with a queue group per service. */
export function natsListener(url: string, queue: string): NatsOptions {
  return { transport: Transport.NATS, options: { servers: natsServers(url), queue, name: queue } };
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
      servers: natsServers(this.url),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 2_000,
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

/** The seeds of NATS_URL: one server, or a cluster's servers comma-separated (the client fails over among them). */
export function natsServers(url: string): string[] {
  return url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
