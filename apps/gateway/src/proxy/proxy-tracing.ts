import type { IncomingMessage } from 'node:http';
import {
  type HttpServerSpan,
  httpServerSpan,
  injectTraceHeaders,
  traceApi,
  traceContextApi,
} from '@concord/platform';
import type { ProxyTracing } from './proxy.handler.js';

/**
 * The proxy's tracing with OpenTelemetry, given to the handler only while tracing is on (otherwise each hook point
 * costs one `if`): a SERVER span per proxied request, child of the client's `traceparent` if it sent one; the
 * upstream request carries this span's `traceparent` in place of the client's; the span ends with the status the
 * client got and the instance that answered.
 */
export const openTelemetryProxyTracing: ProxyTracing = {
  start(req: IncomingMessage, routeLabel: string): unknown {
    const server = httpServerSpan(req.method ?? 'GET', req.url ?? '/', req.headers);
    return { server, route: routeLabel } satisfies ProxySpan;
  },
  inject(span: unknown, headers: string[]): void {
    const { server } = span as ProxySpan;
    withTraceHeaders(headers, (set) =>
      injectTraceHeaders({ set }, traceApi.setSpan(traceContextApi.active(), server.span)),
    );
  },
  end(span: unknown, status: number, instance: string): void {
    const { server, route } = span as ProxySpan;
    if (instance !== '') server.span.setAttribute('concord.instance', instance);
    server.end(route, status);
  },
};

interface ProxySpan {
  readonly server: HttpServerSpan;
  readonly route: string;
}

/** Replaces, in a flat upstream header list, the client's trace context by what `inject` sets. */
export function withTraceHeaders(
  headers: string[],
  inject: (set: (name: string, value: string) => void) => void,
): void {
  let kept = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    if (name === 'traceparent' || name === 'tracestate') continue;
    headers[kept] = headers[i]!;
    headers[kept + 1] = headers[i + 1]!;
    kept += 2;
  }
  headers.length = kept;
  inject((name, value) => headers.push(name, value));
}
