import { Inject, Injectable } from '@nestjs/common';
import { BearerTokenGuard } from '@concord/platform';
import type { CoordinatorConfig } from '../config.js';
import { COORDINATOR_CONFIG } from './tokens.js';

/** Every /v1 route needs the client token (CLIENT_TOKEN). */
@Injectable()
export class ClientAuthGuard extends BearerTokenGuard {
  constructor(@Inject(COORDINATOR_CONFIG) config: CoordinatorConfig) {
    super([config.CLIENT_TOKEN]);
  }
}
