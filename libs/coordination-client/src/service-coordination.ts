import { instanceIdentity } from '@concord/platform';
import type { DynamicModule } from '@nestjs/common';
import { CoordinationModule } from './coordination.module.js';

/**
 * The coordinator wiring every service instance has: register `services/{service}/{instanceId}` under a lease
 * (re-registered when lost, removed on shutdown) and follow `config/{service}/` as shared configuration.
 * Without COORDINATOR_URLS the app runs alone: no registration, shared settings at their defaults.
 */
export function serviceCoordination(
  service: string,
  config: {
    PORT: number;
    INSTANCE_ID?: string | undefined;
    PUBLIC_URL?: string | undefined;
    COORDINATOR_URLS: readonly string[];
    COORDINATOR_TOKEN?: string | undefined;
  },
): DynamicModule {
  const { instanceId, url } = instanceIdentity(service, config);
  return CoordinationModule.forRoot({
    urls: config.COORDINATOR_URLS,
    token: config.COORDINATOR_TOKEN,
    registration: { service, instanceId, url },
    configPrefix: `config/${service}/`,
  });
}
