import { describe, expect, it } from 'vitest';
import { LruCache } from './lru-cache.js';

function cacheAt(maxEntries: number, ttlMs: number) {
  let nowMs = 0;
  const cache = new LruCache<string>(maxEntries, ttlMs, () => nowMs);
  return { cache, advance: (ms: number) => (nowMs += ms) };
}

describe('LruCache', () => {
  it('evicts the least recently used entry beyond maxEntries', () => {
    const { cache } = cacheAt(2, 1_000);
    cache.set('a', 'A');
    cache.set('b', 'B');
    expect(cache.get('a')).toBe('A'); // a is now the most recent
    cache.set('c', 'C');
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    expect(cache.get('c')).toBe('C');
    expect(cache.size).toBe(2);
  });

  it('expires an entry ttlMs after it was set', () => {
    const { cache, advance } = cacheAt(10, 1_000);
    cache.set('a', 'A');
    advance(999);
    expect(cache.get('a')).toBe('A');
    advance(1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('caches nothing when disabled by size or ttl', () => {
    for (const { cache } of [cacheAt(0, 1_000), cacheAt(10, 0)]) {
      cache.set('a', 'A');
      expect(cache.get('a')).toBeUndefined();
    }
  });

  it('load counts a hit only for a cached value and does not cache "not found"', async () => {
    const { cache } = cacheAt(10, 1_000);
    let loads = 0;
    const loader = async () => {
      loads += 1;
      return loads === 1 ? undefined : 'A';
    };
    expect(await cache.load('a', loader)).toEqual({ value: undefined, hit: false });
    expect(await cache.load('a', loader)).toEqual({ value: 'A', hit: false });
    expect(await cache.load('a', loader)).toEqual({ value: 'A', hit: true });
    expect(loads).toBe(2);
  });

  it('does not cache a value loaded across an invalidation (it may predate the write)', async () => {
    const { cache } = cacheAt(10, 1_000);
    let release: (value: string) => void = () => undefined;
    const slow = cache.load('a', () => new Promise<string>((resolve) => (release = resolve)));
    cache.delete('a'); // a write committed while the read was in flight
    release('old');
    expect(await slow).toEqual({ value: 'old', hit: false });
    expect(cache.get('a')).toBeUndefined();
  });

  it('refuses nonsense bounds', () => {
    expect(() => new LruCache(-1, 1, () => 0)).toThrow(RangeError);
    expect(() => new LruCache(1.5, 1, () => 0)).toThrow(RangeError);
    expect(() => new LruCache(1, -1, () => 0)).toThrow(RangeError);
  });
});
