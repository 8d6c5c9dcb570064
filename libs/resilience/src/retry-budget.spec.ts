import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.js';
import { RetryBudget } from './retry-budget.js';

describe('RetryBudget', () => {
  it('allows at least minRetriesPerSecond x window even with no traffic', () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ clock, windowMs: 10_000, minRetriesPerSecond: 3 });
    let granted = 0;
    while (budget.tryAcquireRetry()) granted++;
    expect(granted).toBe(30);
  });

  it('allows at most 20% extra under load', () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ clock });
    for (let i = 0; i < 1000; i++) budget.recordRequest();
    let granted = 0;
    while (budget.tryAcquireRetry()) granted++;
    expect(granted).toBe(200);
    expect(budget.usage()).toEqual({ requests: 1000, retries: 200 });
  });

  it('slides: requests and retries older than the window stop counting', async () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ clock, windowMs: 10_000, buckets: 10, minRetriesPerSecond: 0 });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    expect(budget.available()).toBe(20);
    for (let i = 0; i < 20; i++) expect(budget.tryAcquireRetry()).toBe(true);
    expect(budget.tryAcquireRetry()).toBe(false);
    await clock.advance(5_000);
    for (let i = 0; i < 50; i++) budget.recordRequest();
    expect(budget.available()).toBe(10); // 150 requests x 0.2 - 20 retries
    await clock.advance(5_500); // the first 100 requests and the 20 retries have left the window
    expect(budget.usage()).toEqual({ requests: 50, retries: 0 });
    expect(budget.available()).toBe(10);
    await clock.advance(60_000);
    expect(budget.usage()).toEqual({ requests: 0, retries: 0 });
  });

  it('rejects nonsense settings', () => {
    expect(() => new RetryBudget({ retryRatio: -1 })).toThrow(RangeError);
    expect(() => new RetryBudget({ buckets: 0 })).toThrow(RangeError);
  });
});
