import { describe, expect, it } from 'vitest';
import { sumCounterByLabel } from './prometheus.js';

describe('sumCounterByLabel', () => {
  it('sums one counter by one label and ignores other metrics sharing its prefix', () => {
    const text = [
      '# HELP gateway_requests_total Proxied requests.',
      '# TYPE gateway_requests_total counter',
      'gateway_requests_total{route="/api/orders",status="200",instance="orders-1"} 7',
      'gateway_requests_total{route="/api/orders",status="503",instance="orders-1"} 3',
      'gateway_requests_total{instance="orders-2",route="/api/orders",status="200"} 4',
      'gateway_requests_total_created{instance="orders-2"} 99',
      'gateway_requests_total{route="/api/x",status="404",instance="-"} 1',
      'gateway_requests_total{route="weird \\"quoted\\"",instance="orders-3"} NaN',
    ].join('\n');
    expect(Object.fromEntries(sumCounterByLabel(text, 'gateway_requests_total', 'instance'))).toEqual({
      'orders-1': 10,
      'orders-2': 4,
      '-': 1,
    });
  });

  it('answers an empty map for text without the metric', () => {
    expect(sumCounterByLabel('', 'gateway_requests_total', 'instance').size).toBe(0);
  });
});
