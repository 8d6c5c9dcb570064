import { describe, expect, it } from 'vitest';
import { Lessor } from './lessor.js';

describe('Lessor', () => {
  it('expires a lease after its TTL without keep-alive, and not before', () => {
    const lessor = new Lessor();
    lessor.promote([], 0);
    lessor.onLeaseChange({ id: 'a', ttlSeconds: 2 }, 1_000);
    expect(lessor.expired(2_999)).toEqual([]);
    expect(lessor.expired(3_000)).toEqual(['a']);
  });

  it('resets the deadline on keep-alive and answers null for an unknown lease', () => {
    const lessor = new Lessor();
    lessor.promote([{ id: 'a', ttlSeconds: 2 }], 0);
    expect(lessor.keepAlive('a', 1_500)).toBe(2);
    expect(lessor.expired(3_000)).toEqual([]);
    expect(lessor.remainingSeconds('a', 3_000)).toBe(1);
    expect(lessor.expired(3_500)).toEqual(['a']);
    expect(lessor.keepAlive('nope', 0)).toBeNull();
  });

  it('gives every lease a full TTL of its own on promotion (a new leader never expires early)', () => {
    const lessor = new Lessor();
    lessor.promote([{ id: 'a', ttlSeconds: 5 }], 100_000);
    expect(lessor.expired(104_999)).toEqual([]);
    expect(lessor.expired(105_000)).toEqual(['a']);
  });

  it('tracks nothing while following', () => {
    const lessor = new Lessor();
    lessor.onLeaseChange({ id: 'a', ttlSeconds: 1 }, 0);
    expect(lessor.expired(10_000)).toEqual([]);
    expect(lessor.keepAlive('a', 0)).toBeNull();
    lessor.promote([{ id: 'a', ttlSeconds: 1 }], 0);
    lessor.demote();
    expect(lessor.expired(10_000)).toEqual([]);
  });

  it('forgets a removed lease', () => {
    const lessor = new Lessor();
    lessor.promote([{ id: 'a', ttlSeconds: 1 }], 0);
    lessor.onLeaseChange({ id: 'a', ttlSeconds: null }, 0);
    expect(lessor.expired(10_000)).toEqual([]);
  });
});
