import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter } from './rate-limiter.js';

describe('TokenBucketLimiter', () => {
  it('allows a burst, then the refill rate, per client', () => {
    const limiter = new TokenBucketLimiter(10, 3);
    expect([1, 2, 3].map(() => limiter.take('a', 0).allowed)).toEqual([true, true, true]);
    expect(limiter.take('a', 0)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take('b', 0).allowed).toBe(true);
    expect(limiter.take('a', 99).allowed).toBe(false);
    expect(limiter.take('a', 100).allowed).toBe(true);
  });

  it('says how long to wait at slow rates', () => {
    const limiter = new TokenBucketLimiter(0.25, 1);
    expect(limiter.take('a', 0).allowed).toBe(true);
    expect(limiter.take('a', 0).retryAfterSeconds).toBe(4);
  });

  it('keeps the table bounded', () => {
    const limiter = new TokenBucketLimiter(1, 1, 100);
    for (let i = 0; i < 1_000; i++) limiter.take(`c${i}`, i);
    expect(limiter.clients).toBeLessThanOrEqual(100);
  });
});
