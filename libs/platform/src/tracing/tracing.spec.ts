import { describe, expect, it } from 'vitest';
import { activeTraceIds, contextFromTraceparent, tracingOn, tracingRequested, withSpan } from './tracing.js';
import { traceApi } from './tracing.js';

describe('tracingRequested', () => {
  it('is off with no OTLP endpoint, on with either endpoint variable', () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe(true);
  });

  it('honours OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };
    expect(tracingRequested({ ...endpoint, OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingRequested({ ...endpoint, OTEL_SDK_DISABLED: 'false' })).toBe(true);
    expect(tracingRequested({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    expect(tracingRequested({ ...endpoint, OTEL_TRACES_EXPORTER: 'console,otlp' })).toBe(true);
  });
});

describe('with tracing off', () => {
  it('runs work with no span, and log lines get no ids', async () => {
    expect(tracingOn).toBe(false);
    expect(await withSpan('x', {}, (span) => Promise.resolve(span))).toBeUndefined();
    expect(activeTraceIds()).toBeUndefined();
  });

  it('reads a stored traceparent back as the parent span context', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const parent = traceApi.getSpanContext(contextFromTraceparent(traceparent));
    expect(parent).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' });
    expect(traceApi.getSpanContext(contextFromTraceparent('garbage'))).toBeUndefined();
    expect(traceApi.getSpanContext(contextFromTraceparent(null))).toBeUndefined();
  });
});
