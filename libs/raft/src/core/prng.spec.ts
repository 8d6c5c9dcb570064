import { describe, expect, it } from 'vitest';
import { Xoshiro128 } from './prng.js';

describe('Xoshiro128', () => {
  it('one seed, one sequence', () => {
    const a = new Xoshiro128(42);
    const b = new Xoshiro128(42);
    const xs = Array.from({ length: 100 }, () => a.nextUint32());
    expect(Array.from({ length: 100 }, () => b.nextUint32())).toEqual(xs);
    expect(new Xoshiro128(43).nextUint32()).not.toBe(xs[0]);
  });

  it('int(n) covers [0, n) roughly uniformly', () => {
    const r = new Xoshiro128(7);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) counts[r.int(10)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(850);
    for (const c of counts) expect(c).toBeLessThan(1150);
  });
});
