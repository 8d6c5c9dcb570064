import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  type TextMapGetter,
  type TextMapSetter,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

/**
 * Tracing with OpenTelemetry, switched by the standard OTEL_* variables and nothing else: with no OTLP endpoint
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), or with OTEL_SDK_DISABLED=true or
 * OTEL_TRACES_EXPORTER=none, no provider is installed and every hook below is one test of {@link tracingOn}:
 * no span object, no context switch, no header. Spans are made by hand at known boundaries (HTTP in, NATS out
 * and in, saga steps, 2PC phases, SQL transactions, Raft proposals), not by auto-instrumentation that would
 * patch every module on the hot paths (see docs/observability.md).
 */

/** True once {@link startTracing} installed an exporting provider. Read on hot paths: one boolean test. */
export let tracingOn = false;

const TRACER_NAME = 'concord';
/** W3C trace context, used directly (not through the global propagator) so it works before and without a provider. */
const w3c = new W3CTraceContextPropagator();
let tracerInstance: Tracer | undefined;

/** Whether the OTEL_* variables ask for traces to be exported (over OTLP/HTTP). */
export function tracingRequested(env: Record<string, string | undefined>): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? 'otlp').split(',').map((s) => s.trim().toLowerCase());
  if (!exporters.includes('otlp')) return false;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return endpoint !== undefined && endpoint.trim() !== '';
}

export interface TracingHandle {
  /** Exports what is buffered and stops (graceful shutdown). */
  shutdown(): Promise<void>;
}

/** What {@link startTracing} answers when it installs nothing. */
const TRACING_OFF: TracingHandle = { shutdown: () => Promise.resolve() };

/**
 * Installs the global tracer provider (OTLP over HTTP, batched), the AsyncLocalStorage context manager and the
 * W3C trace-context propagator, if the environment asks for it. Resource: service.name = the app (unless
 * OTEL_SERVICE_NAME says otherwise), service.instance.id, and OTEL_RESOURCE_ATTRIBUTES. The exporter and the batch
 * processor read their own OTEL_EXPORTER_OTLP_* and OTEL_BSP_* variables, the sampler OTEL_TRACES_SAMPLER.
 *
 * The SDK, the exporter (with its protobuf serializers) and the context manager are imported here, only when
 * tracing is on: loaded up front they cost every process ~80-130 ms of CPU at start with tracing off, and
 * `npm run stack` starts a dozen of them at once on two cores.
 */
export async function startTracing(
  app: string,
  instanceId: string,
  env: Record<string, string | undefined> = process.env,
): Promise<TracingHandle> {
  if (tracingOn || !tracingRequested(env)) return TRACING_OFF;
  const [
    { AsyncLocalStorageContextManager },
    { OTLPTraceExporter },
    { detectResources, envDetector, resourceFromAttributes },
    { BasicTracerProvider, BatchSpanProcessor },
  ] = await Promise.all([
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-base'),
  ]);
  if (tracingOn) return TRACING_OFF; // another call installed it while these modules loaded
  const resource = resourceFromAttributes({
    'service.name': app,
    'service.namespace': 'concord',
    'service.instance.id': instanceId,
  }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(w3c);
  trace.setGlobalTracerProvider(provider);
  tracerInstance = trace.getTracer(TRACER_NAME);
  tracingOn = true;
  return {
    async shutdown() {
      await provider.shutdown().catch(() => undefined);
    },
  };
}

/** The tracer (only meaningful while {@link tracingOn}). */
export function tracer(): Tracer {
  tracerInstance ??= trace.getTracer(TRACER_NAME);
  return tracerInstance;
}

/** Trace and span id of the active span, for log lines; undefined when tracing is off or no span is active. */
export function activeTraceIds(): { traceId: string; spanId: string } | undefined {
  if (!tracingOn) return undefined;
  const span = trace.getActiveSpan();
  if (span === undefined) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}

export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  /** The parent; default the active context. */
  readonly parent?: Context;
}

/**
 * Runs `work` inside a new active span that ends when `work` settles (error status and the exception recorded
 * on a throw). With tracing off, runs `work` with no span at all. Callers on hot paths test {@link tracingOn}
 * themselves to avoid even the closure.
 */
export function withSpan<T>(
  name: string,
  options: SpanOptions,
  work: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  if (!tracingOn) return work(undefined);
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    parent,
  );
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await work(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks `span` failed with `error`. */
export function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
}

interface HeaderSetter {
  set(name: string, value: string): void;
}
interface HeaderGetter {
  get(name: string): string | string[] | undefined | null;
}

const HEADER_SETTER: TextMapSetter<HeaderSetter> = {
  set: (carrier, key, value) => carrier.set(key, value),
};
const HEADER_GETTER: TextMapGetter<HeaderGetter> = {
  get: (carrier, key) => {
    const value = carrier.get(key);
    return value === null ? undefined : value;
  },
  keys: () => ['traceparent', 'tracestate'],
};

/** Writes `traceparent` (and `tracestate`) of the active context, or of `ctx`, into `carrier`. */
export function injectTraceHeaders(carrier: HeaderSetter, ctx: Context = context.active()): void {
  w3c.inject(ctx, carrier, HEADER_SETTER);
}

/** The context whose remote parent is the `traceparent` in `carrier` (ROOT_CONTEXT-based when there is none). */
export function extractTraceContext(carrier: HeaderGetter, base: Context = ROOT_CONTEXT): Context {
  return w3c.extract(base, carrier, HEADER_GETTER);
}

/** The `traceparent` value of a span (stored with a saga so that a resumed run continues its trace). */
export function traceparentOf(span: Span): string {
  const headers = new Map<string, string>();
  injectTraceHeaders({ set: (k, v) => headers.set(k, v) }, trace.setSpan(ROOT_CONTEXT, span));
  return headers.get('traceparent') ?? '';
}

/** A context whose parent is the span named by a stored `traceparent` (invalid or empty: a root context). */
export function contextFromTraceparent(traceparent: string | null | undefined): Context {
  if (traceparent === null || traceparent === undefined || traceparent === '') return ROOT_CONTEXT;
  return extractTraceContext({ get: (name) => (name === 'traceparent' ? traceparent : undefined) });
}

/** A SERVER span of one HTTP request: `run` makes it active for the handler, `end` names the route and status. */
export interface HttpServerSpan {
  readonly span: Span;
  run<T>(work: () => T): T;
  end(route: string, status: number): void;
}

/** Starts the SERVER span of an incoming HTTP request, child of its `traceparent` header if any. */
export function httpServerSpan(
  method: string,
  target: string,
  headers: Record<string, string | string[] | undefined>,
): HttpServerSpan {
  const parent = extractTraceContext({ get: (name) => headers[name] });
  const span = tracer().startSpan(
    method,
    {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': method, 'url.path': target.split('?', 1)[0] ?? target },
    },
    parent,
  );
  const active = trace.setSpan(parent, span);
  return {
    span,
    run: (work) => context.with(active, work),
    end(route, status) {
      span.updateName(`${method} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    },
  };
}

export { SpanKind, SpanStatusCode, context as traceContextApi, trace as traceApi };
export type { Context as TraceContext, Span };
