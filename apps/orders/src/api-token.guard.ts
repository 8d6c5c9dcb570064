import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, BearerTokenGuard } from '@concord/platform';
import type { OrdersConfig } from './config.js';

/** Write endpoints need `Authorization: Bearer <API_TOKEN>`; reads are open. */
@Injectable()
export class ApiTokenGuard extends BearerTokenGuard {
  constructor(@Inject(APP_CONFIG) config: OrdersConfig) {
    super([config.API_TOKEN]);
  }
}
