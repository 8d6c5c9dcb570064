import { randomUUID } from 'node:crypto';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import type { Reply } from '@concord/contracts';
import { tracedNatsRequest, tracingOn } from '@concord/platform';
import type { ReplyIn, RequestIn } from '../definition/workflow.js';
import { ReplyMux } from './reply-mux.js';

/**
 * Request/reply with a handler registered through `@nestjs/microservices` (`@MessagePattern(subject)`), spoken
 * directly on a NATS connection so that the caller controls timeouts and re-sends. Nest's wire format:
 * request `{pattern, data, id}`; reply `{id, response?, err?, isDisposed}` (one message for a single value).
 */

/** The handler threw or no handler answered: a transport-level failure, to be retried (never a business refusal). */
export class RemoteCallError extends Error {
  override readonly name = 'RemoteCallError';
  constructor(
    readonly subject: string,
    message: string,
  ) {
    super(`${subject}: ${message}`);
  }
}

/** Any subject, any payload: what the engine itself sends (it knows no app's subjects). */
export type UntypedMessages = Record<string, readonly [unknown, Reply<unknown>]>;

/**
 * Sends one command; resolves with the handler's reply or rejects (timeout, no responders, handler error). `M` is
 * the caller's message map (subject -> [request, reply]), so a typed caller cannot send the wrong payload.
 */
export type CommandSender<M = UntypedMessages> = <S extends keyof M & string>(
  subject: S,
  payload: RequestIn<M, S>,
  timeoutMs: number,
) => Promise<ReplyIn<M, S>>;

export function encodeNestRequest(subject: string, payload: unknown): string {
  return JSON.stringify({ pattern: subject, data: payload, id: randomUUID() });
}

export function decodeNestReply(subject: string, text: string): unknown {
  const packet = JSON.parse(text) as { err?: unknown; response?: unknown };
  if (packet.err !== undefined && packet.err !== null) {
    const detail = typeof packet.err === 'string' ? packet.err : JSON.stringify(packet.err);
    throw new RemoteCallError(subject, detail);
  }
  if (!('response' in packet)) throw new RemoteCallError(subject, 'empty response');
  return packet.response;
}

/**
 * A {@link CommandSender} over a NATS connection obtained per call (it may be replaced after a reconnect).
 * Replies come back through one {@link ReplyMux} subscription per sender: no Error, timer or inbox per request.
 */
export function natsCommandSender<M = UntypedMessages>(
  connection: () => Promise<NatsConnection>,
  mux = new ReplyMux(),
): CommandSender<M> {
  return async <S extends keyof M & string>(subject: S, payload: RequestIn<M, S>, timeoutMs: number) => {
    const message = await muxRequest(
      mux,
      await connection(),
      subject,
      encodeNestRequest(subject, payload),
      timeoutMs,
    );
    return decodeNestReply(subject, message.string()) as ReplyIn<M, S>;
  };
}

/** One request through `mux`, inside a PRODUCER span with its trace context in the headers when tracing is on. */
export function muxRequest(
  mux: ReplyMux,
  nc: NatsConnection,
  subject: string,
  data: string,
  timeoutMs: number,
): Promise<Msg> {
  return tracingOn
    ? tracedNatsRequest(nc, subject, data, timeoutMs, (headers) =>
        mux.request(nc, subject, data, timeoutMs, headers),
      )
    : mux.request(nc, subject, data, timeoutMs);
}
