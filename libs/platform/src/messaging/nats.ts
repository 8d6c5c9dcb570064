import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit, Logger } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Msg } from '@nats-io/transport-node';
import { IncomingRequestDeserializer, type NatsOptions, Transport } from '@nestjs/microservices';
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

/** Thrown (and so logged by Nest) for a message that cannot be a request; its sender was already answered. */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

/**
 * Nest's NATS deserializer, made to survive any payload. Nest's own parses with `msg.json()` and, on garbage,
 * throws where nobody answers: the sender waits for its timeout. Here a message that is not JSON, or a request
 * (it has a reply subject) that is not a `{pattern, data, id}` packet, is answered at once with an error packet
 * in Nest's wire format, then refused; one with no reply subject is only refused (Nest logs it). The
 * subscription keeps reading either way. The handlers then validate `data` themselves.
 */
export class SafeNatsDeserializer extends IncomingRequestDeserializer {
  override deserialize(
    value: Msg,
    options?: Record<string, unknown>,
  ): ReturnType<IncomingRequestDeserializer['deserialize']> {
    let decoded: unknown;
    try {
      decoded = value.json();
    } catch {
      return this.refuse(value, 'malformed message: not JSON');
    }
    const packet = decoded as { id?: unknown; pattern?: unknown } | null;
    const isRequest = typeof value.reply === 'string' && value.reply !== '';
    if (isRequest && (packet === null || typeof packet !== 'object' || typeof packet.id !== 'string')) {
      return this.refuse(value, 'malformed request: expected a {pattern, data, id} packet');
    }
    return super.deserialize(decoded, options);
  }

  private refuse(value: Msg, reason: string): never {
    if (typeof value.reply === 'string' && value.reply !== '') {
      value.respond(JSON.stringify({ err: reason, isDisposed: true }));
    }
    throw new MalformedMessageError(`${value.subject}: ${reason}`);
  }
}

/** Options for the app's NATS listener: request/reply with a queue group per service. */
export function natsListener(url: string, queue: string, credentials?: NatsCredentials): NatsOptions {
  return {
    transport: Transport.NATS,
    options: {
      servers: natsServers(url),
      queue,
      name: queue,
      deserializer: new SafeNatsDeserializer(),
      ...credentials,
    },
  };
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
      servers: natsServers(this.url),
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 2_000,
      // No Error (and stack capture) allocated per request just in case it times out: the profile of the
      // orchestrator showed it among its top costs. A timeout still rejects, with a shorter trace.
      noAsyncTraces: true,
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

/** The seeds of NATS_URL: one server, or a cluster's servers comma-separated (the client fails over among them). */
export function natsServers(url: string): string[] {
  return url
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
