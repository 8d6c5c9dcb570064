import { Metrics } from '@concord/platform';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { GatewayMetrics, RouteLatencyHistogram } from './gateway.metrics.js';

describe('GatewayMetrics', () => {
  it('counts requests, overflows and panics in plain numbers and exports them when scraped', async () => {
    const platform = new Metrics();
    const metrics = new GatewayMetrics(platform);
    for (let i = 0; i < 3; i++) metrics.countRequest('/api/orders', 200, 'orders-1');
    metrics.countRequest('/api/orders', 503, '-');
    metrics.choice('orders', 2, false);
    metrics.choice('orders', 1, true);
    metrics.choice('orders', 0, false);
    metrics.observeLatency('/api/orders', 0.002);
    const text = await platform.registry.metrics();
    expect(text).toContain('gateway_requests_total{route="/api/orders",status="200",instance="orders-1"} 3');
    expect(text).toContain('gateway_requests_total{route="/api/orders",status="503",instance="-"} 1');
    expect(text).toContain('gateway_bounded_load_overflows_total{service="orders"} 3');
    expect(text).toContain('gateway_panic_routed_total{service="orders"} 1');
    expect(text).toContain('gateway_request_duration_seconds_count{route="/api/orders"} 1');
    // Scraping twice reports the same totals (collect rebuilds, never adds twice).
    expect(await platform.registry.metrics()).toContain(
      'gateway_requests_total{route="/api/orders",status="200",instance="orders-1"} 3',
    );
  });
});

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
