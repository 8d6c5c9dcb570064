import { instanceIdentity } from '@concord/platform';
import type { DynamicModule } from '@nestjs/common';
import { CoordinationModule } from './coordination.module.js';

/**
 * The coordinator wiring every service instance has: register `services/{service}/{instanceId}` under a lease
 * (re-registered when lost, removed on shutdown) and follow `config/{service}/` as shared configuration.
 * COORDINATION_BACKEND=etcd uses the etcd cluster at ETCD_ENDPOINTS instead, with the same keys and semantics.
 * Without COORDINATOR_URLS (or ETCD_ENDPOINTS) the app runs alone: no registration, shared settings at their defaults.
 */
export function serviceCoordination(
  service: string,
  config: {
    PORT: number;
    INSTANCE_ID?: string | undefined;
    PUBLIC_URL?: string | undefined;
    COORDINATOR_URLS: readonly string[];
    COORDINATOR_TOKEN?: string | undefined;
    COORDINATION_BACKEND?: 'concord' | 'etcd' | undefined;
    ETCD_ENDPOINTS?: readonly string[] | undefined;
    ETCD_USERNAME?: string | undefined;
    ETCD_PASSWORD?: string | undefined;
  },
): DynamicModule {
  const { instanceId, url } = instanceIdentity(service, config);
  return CoordinationModule.forRoot({
    urls: config.COORDINATOR_URLS,
    token: config.COORDINATOR_TOKEN,
    backend: config.COORDINATION_BACKEND ?? 'concord',
    etcdEndpoints: config.ETCD_ENDPOINTS ?? [],
    etcdUsername: config.ETCD_USERNAME,
    etcdPassword: config.ETCD_PASSWORD,
    registration: { service, instanceId, url },
    configPrefix: `config/${service}/`,
  });
}
