import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { context as otelContext, SpanKind, trace } from '@opentelemetry/api';
import type { Observable } from 'rxjs';
import { finalize, tap } from 'rxjs/operators';
import { extractTraceContext, failSpan, tracer } from './tracing.js';

interface NatsHeaders {
  get(name: string): string;
}

/**
 * A CONSUMER span per NATS message handled by a `@MessagePattern` handler, child of the `traceparent` the sender
 * put in the message's headers, active while the handler runs (so its SQL spans and log lines belong to it).
 * Registered by the platform only when tracing is on: with tracing off no interceptor runs at all.
 */
@Injectable()
export class NatsTracingInterceptor implements NestInterceptor {
  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (execution.getType() !== 'rpc') return next.handle();
    const rpc = execution.switchToRpc();
    const nats = rpc.getContext<{ getSubject?: () => string; getHeaders?: () => NatsHeaders | undefined }>();
    const subject = nats.getSubject?.() ?? 'unknown';
    const headers = nats.getHeaders?.();
    const parent =
      headers === undefined
        ? otelContext.active()
        : extractTraceContext({ get: (name) => headers.get(name) || undefined });
    const span = tracer().startSpan(
      `${subject} process`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.type': 'process',
          'messaging.destination.name': subject,
        },
      },
      parent,
    );
    return otelContext.with(trace.setSpan(parent, span), () =>
      next.handle().pipe(
        tap({
          next: (reply) => {
            const refused = reply as { ok?: unknown; reason?: unknown } | null;
            if (refused !== null && typeof refused === 'object' && refused.ok === false) {
              span.setAttribute(
                'concord.refused',
                typeof refused.reason === 'string' ? refused.reason : JSON.stringify(refused.reason),
              );
            }
          },
          error: (error: unknown) => failSpan(span, error),
        }),
        finalize(() => span.end()),
      ),
    );
  }
}
