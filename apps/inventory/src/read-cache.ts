import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, Clock, CountedReadCache, Metrics } from '@concord/platform';
import type { InventoryConfig } from './config.js';
import type { ProductView } from './stock.js';

/** The products-by-sku read cache of this instance (hit ratio in `cache_hits_total{cache="products"}`). */
@Injectable()
export class ProductCache extends CountedReadCache<ProductView> {
  constructor(@Inject(APP_CONFIG) config: InventoryConfig, clock: Clock, metrics: Metrics) {
    super('products', { maxEntries: config.CACHE_MAX_ENTRIES, ttlMs: config.CACHE_TTL_MS }, clock, metrics);
  }
}
