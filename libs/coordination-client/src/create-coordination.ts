import { ConfigError } from '@concord/platform';
import { CoordinationClient } from './coordination-client.js';
import type { Coordination } from './coordination.js';
import { EtcdCoordination } from './etcd-coordination.js';

export type CoordinationBackend = 'concord' | 'etcd';

/** Where the coordination port points: Concord's coordinator (REST) or an etcd v3 cluster (gRPC). */
export interface CoordinationSettings {
  /** `concord` (default) or `etcd`. */
  readonly backend?: CoordinationBackend;
  /** Concord: coordinator API URLs. */
  readonly urls?: readonly string[];
  /** Concord: bearer token. */
  readonly token?: string | undefined;
  /** etcd: client URLs of the members. */
  readonly etcdEndpoints?: readonly string[];
  /** etcd: user and password when the cluster has authentication on. */
  readonly etcdUsername?: string | undefined;
  readonly etcdPassword?: string | undefined;
  readonly onWarning?: (message: string) => void;
}

/**
 * The coordination port for these settings, or null when none is configured (the app then runs alone: no
 * registration, shared settings at their defaults, single-instance leadership).
 */
export function createCoordination(settings: CoordinationSettings): Coordination | null {
  const onWarning = settings.onWarning === undefined ? {} : { onWarning: settings.onWarning };
  if ((settings.backend ?? 'concord') === 'etcd') {
    const endpoints = settings.etcdEndpoints ?? [];
    if (endpoints.length === 0) {
      throw new ConfigError([
        { variable: 'ETCD_ENDPOINTS', problem: 'is required with COORDINATION_BACKEND=etcd' },
      ]);
    }
    const auth =
      settings.etcdUsername === undefined
        ? {}
        : { auth: { username: settings.etcdUsername, password: settings.etcdPassword ?? '' } };
    return new EtcdCoordination({ endpoints, ...auth, ...onWarning });
  }
  const urls = settings.urls ?? [];
  if (urls.length === 0 || settings.token === undefined) return null;
  return new CoordinationClient({ urls, token: settings.token, ...onWarning });
}
