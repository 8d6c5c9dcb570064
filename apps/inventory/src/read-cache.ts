import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, Clock, LruCache, Metrics } from '@concord/platform';
import type { Counter } from 'prom-client';
import type { InventoryConfig } from './config.js';
import type { ProductView } from './stock.js';

/** The products-by-sku read cache of this instance, counting hits and misses for the hit-ratio metric. */
@Injectable()
export class ProductCache {
  readonly name = 'products';
  private readonly cache: LruCache<ProductView>;
  private readonly hits: Counter<'cache'>;
  private readonly misses: Counter<'cache'>;

  constructor(@Inject(APP_CONFIG) config: InventoryConfig, clock: Clock, metrics: Metrics) {
    this.cache = new LruCache(config.CACHE_MAX_ENTRIES, config.CACHE_TTL_MS, () => clock.nowMs());
    this.hits = metrics.counter('cache_hits_total', 'Read-cache lookups answered from the cache, by cache.', [
      'cache',
    ]);
    this.misses = metrics.counter(
      'cache_misses_total',
      'Read-cache lookups that went to the database, by cache.',
      ['cache'],
    );
  }

  async get(sku: string, load: () => Promise<ProductView | undefined>): Promise<ProductView | undefined> {
    const { value, hit } = await this.cache.load(sku, load);
    (hit ? this.hits : this.misses).inc({ cache: this.name });
    return value;
  }

  /** Called after a write on this instance has committed. */
  invalidate(skus: Iterable<string>): void {
    for (const sku of skus) this.cache.delete(sku);
  }
}
