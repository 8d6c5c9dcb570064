import { describe, expect, it, vi } from 'vitest';

/** Counts imports of the OTLP exporter; importing it fails, so any load that should not happen shows. */
const exporterLoads = vi.hoisted(() => ({ count: 0 }));
vi.mock('@opentelemetry/exporter-trace-otlp-http', () => {
  exporterLoads.count++;
  throw new Error('the OTLP exporter was loaded');
});

describe('startTracing loads the SDK only when tracing is on', () => {
  it('with tracing off: neither importing the module nor starting loads the exporter', async () => {
    const { startTracing, tracingOn } = await import('./tracing.js');
    const handle = await startTracing('app', 'app-1', {});
    await handle.shutdown();
    expect(tracingOn).toBe(false);
    expect(exporterLoads.count).toBe(0);
  });

  it('with an OTLP endpoint: the exporter is imported by startTracing itself', async () => {
    const tracing = await import('./tracing.js');
    await expect(
      tracing.startTracing('app', 'app-1', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }),
    ).rejects.toThrow(); // vitest wraps the factory's error in its own message
    expect(exporterLoads.count).toBe(1);
    expect(tracing.tracingOn).toBe(false);
  });
});
