import { headers, type Msg, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { extractTraceContext, failSpan, injectTraceHeaders, tracer, withSpan } from '../tracing/tracing.js';

/**
 * A NATS request inside a PRODUCER span whose `traceparent` travels in the message's headers (W3C trace
 * context), so the handler's CONSUMER span is its child. Only called with tracing on: the untraced path sends
 * no headers at all.
 */
export async function tracedNatsRequest(
  nc: NatsConnection,
  subject: string,
  data: string,
  timeoutMs: number,
  send: (headers: MsgHdrs) => Promise<Msg> = (carrier) =>
    nc.request(subject, data, { timeout: timeoutMs, headers: carrier }),
): Promise<Msg> {
  const parent = context.active();
  const span = tracer().startSpan(
    `${subject} send`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'send',
        'messaging.destination.name': subject,
      },
    },
    parent,
  );
  const carrier = headers();
  injectTraceHeaders(carrier, trace.setSpan(parent, span));
  try {
    return await send(carrier);
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Runs the handler of a message received on a plain NATS subscription inside a CONSUMER span, child of the
 * `traceparent` in its headers. Only called with tracing on (handlers behind `@MessagePattern` get theirs from
 * the platform's interceptor).
 */
export function withNatsConsumerSpan<T>(message: Msg, work: () => Promise<T>): Promise<T> {
  const headers = message.headers;
  const parent =
    headers === undefined
      ? context.active()
      : extractTraceContext({ get: (name) => headers.get(name) || undefined });
  return withSpan(
    `${message.subject} process`,
    {
      kind: SpanKind.CONSUMER,
      parent,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.destination.name': message.subject,
      },
    },
    work,
  );
}
