import { describe, expect, it } from 'vitest';
import { retryDelayMs, retryExhausted, RETRY_FOREVER } from './retry.js';

describe('retry policy', () => {
  const policy = {
    attemptsMax: 5,
    backoffInitialMs: 100,
    backoffMaxMs: 1_000,
    jitterRatio: 0.5,
    deadlineMs: 3_000,
  };

  it('backs off exponentially up to the maximum, with jitter taking at most its share', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => retryDelayMs(policy, a, 0))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(retryDelayMs(policy, 3, 0.999)).toBeGreaterThanOrEqual(200);
    expect(retryDelayMs(policy, 3, 0.5)).toBe(300);
  });

  it('is exhausted by attempts or by the deadline; RETRY_FOREVER never is', () => {
    expect(retryExhausted(policy, 5, 0)).toBe(true);
    expect(retryExhausted(policy, 1, 3_000)).toBe(true);
    expect(retryExhausted(policy, 4, 2_999)).toBe(false);
    expect(retryExhausted(RETRY_FOREVER, 1e9, 1e12)).toBe(false);
  });
});
