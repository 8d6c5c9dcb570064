import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, Clock, LruCache, Metrics } from '@concord/platform';
import type { Counter } from 'prom-client';
import type { PaymentsConfig } from './config.js';
import type { AccountView } from './funds.js';

/** The accounts-by-customer read cache of this instance, counting hits and misses for the hit-ratio metric. */
@Injectable()
export class AccountCache {
  readonly name = 'accounts';
  private readonly cache: LruCache<AccountView>;
  private readonly hits: Counter<'cache'>;
  private readonly misses: Counter<'cache'>;

  constructor(@Inject(APP_CONFIG) config: PaymentsConfig, clock: Clock, metrics: Metrics) {
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

  async get(
    customerId: string,
    load: () => Promise<AccountView | undefined>,
  ): Promise<AccountView | undefined> {
    const { value, hit } = await this.cache.load(customerId, load);
    (hit ? this.hits : this.misses).inc({ cache: this.name });
    return value;
  }

  /** Called after a write on this instance has committed. */
  invalidate(customerIds: Iterable<string>): void {
    for (const id of customerIds) this.cache.delete(id);
  }
}
