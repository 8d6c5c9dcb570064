import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, Clock, CountedReadCache, Metrics } from '@concord/platform';
import type { PaymentsConfig } from './config.js';
import type { AccountView } from './funds.js';

/** The accounts-by-customer read cache of this instance (hit ratio in `cache_hits_total{cache="accounts"}`). */
@Injectable()
export class AccountCache extends CountedReadCache<AccountView> {
  constructor(@Inject(APP_CONFIG) config: PaymentsConfig, clock: Clock, metrics: Metrics) {
    super('accounts', { maxEntries: config.CACHE_MAX_ENTRIES, ttlMs: config.CACHE_TTL_MS }, clock, metrics);
  }
}
