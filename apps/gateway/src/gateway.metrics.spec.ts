import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RouteLatencyHistogram } from './gateway.metrics.js';

describe('RouteLatencyHistogram', () => {
  it('exports cumulative buckets, sum and count per route in the Prometheus text format', async () => {
    const histogram = new RouteLatencyHistogram('t_seconds', 'test', [0.01, 0.1]);
    const registry = new Registry();
    registry.registerMetric(histogram as unknown as Parameters<Registry['registerMetric']>[0]);
    histogram.observe('/api/a', 0.005);
    histogram.observe('/api/a', 0.01); // on a bound: counted in that bucket (le is "less or equal")
    histogram.observe('/api/a', 0.05);
    histogram.observe('/api/a', 3);
    histogram.observe('/api/b', 0.2);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE t_seconds histogram');
    expect(text).toContain('t_seconds_bucket{le="0.01",route="/api/a"} 2');
    expect(text).toContain('t_seconds_bucket{le="0.1",route="/api/a"} 3');
    expect(text).toContain('t_seconds_bucket{le="+Inf",route="/api/a"} 4');
    expect(text).toContain('t_seconds_sum{route="/api/a"} 3.065');
    expect(text).toContain('t_seconds_count{route="/api/a"} 4');
    expect(text).toContain('t_seconds_bucket{le="0.1",route="/api/b"} 0');
    expect(text).toContain('t_seconds_count{route="/api/b"} 1');
    histogram.reset();
    expect(await registry.metrics()).not.toContain('t_seconds_count');
  });
});
