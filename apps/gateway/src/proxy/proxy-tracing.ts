import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpServerSpan, injectTraceHeaders, traceApi, traceContextApi } from '@concord/platform';

/**
 * The proxy's tracing hook, called only while tracing is on (the handler tests `tracingOn` once per request):
 * a SERVER span per proxied request, child of the client's `traceparent` if it sent one, ended when the
 * response closes; the upstream request carries this span's `traceparent` in place of the client's.
 */
export function traceProxiedRequest(req: IncomingMessage, res: ServerResponse, route: string): string[] {
  const server = httpServerSpan(req.method ?? 'GET', req.url ?? '/', req.headers);
  res.once('close', () => server.end(route, res.statusCode));
  const headers: string[] = [];
  injectTraceHeaders(
    { set: (name, value) => headers.push(name, value) },
    traceApi.setSpan(traceContextApi.active(), server.span),
  );
  return headers;
}

/** The upstream headers with the client's trace context replaced by the gateway span's. */
export function withTraceHeaders(upstream: string[], trace: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < upstream.length; i += 2) {
    const name = upstream[i]!;
    if (name === 'traceparent' || name === 'tracestate') continue;
    out.push(name, upstream[i + 1]!);
  }
  out.push(...trace);
  return out;
}
