import type { Counter } from 'prom-client';
import type { Metrics } from '../metrics/metrics.js';
import type { Clock } from '../time/clock.js';
import { LruCache } from './lru-cache.js';

/**
 * A bounded per-instance read cache (LRU with a TTL) that counts its hits and misses in
 * `cache_hits_total` / `cache_misses_total` labelled with its name: the hit-ratio metric that shows what
 * consistent hashing at the gateway buys.
 */
export class CountedReadCache<V> {
  private readonly cache: LruCache<V>;
  private readonly hits: Counter<'cache'>;
  private readonly misses: Counter<'cache'>;

  constructor(
    readonly name: string,
    limits: { maxEntries: number; ttlMs: number },
    clock: Clock,
    metrics: Metrics,
  ) {
    this.cache = new LruCache<V>(limits.maxEntries, limits.ttlMs, () => clock.nowMs());
    this.hits = metrics.counter('cache_hits_total', 'Read-cache lookups answered from the cache, by cache.', [
      'cache',
    ]);
    this.misses = metrics.counter(
      'cache_misses_total',
      'Read-cache lookups that went to the database, by cache.',
      ['cache'],
    );
  }

  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const { value, hit } = await this.cache.load(key, load);
    (hit ? this.hits : this.misses).inc({ cache: this.name });
    return value;
  }

  /** Called after a write on this instance has committed. */
  invalidate(keys: Iterable<string>): void {
    for (const key of keys) this.cache.delete(key);
  }
}
