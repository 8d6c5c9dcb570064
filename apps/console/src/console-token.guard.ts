import { APP_CONFIG, BearerTokenGuard } from '@concord/platform';
import { Inject, Injectable } from '@nestjs/common';
import type { ConsoleConfig } from './config.js';

/** The console's credential: the gateway admin token, compared in constant time. */
@Injectable()
export class ConsoleTokenGuard extends BearerTokenGuard {
  constructor(@Inject(APP_CONFIG) config: ConsoleConfig) {
    super([config.CONSOLE_ADMIN_TOKEN]);
  }
}
