import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG } from '../platform.module.js';
import { BearerTokenGuard } from './bearer.guard.js';

/** Write endpoints need `Authorization: Bearer <API_TOKEN>` (the app's configured secret); reads are open. */
@Injectable()
export class ApiTokenGuard extends BearerTokenGuard {
  constructor(@Inject(APP_CONFIG) config: { API_TOKEN: string }) {
    super([config.API_TOKEN]);
  }
}
