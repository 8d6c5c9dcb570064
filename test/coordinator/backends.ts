/**
 * The two coordination backends as test fixtures: Concord's coordinator (3 real processes) and etcd (3 real
 * members of the Debian `etcd-server` binary). Tests written against {@link BackendCluster} run on both, the way
 * the apps do: through the `Coordination` port and the environment variables an app reads.
 */
import { type Coordination, CoordinationClient, EtcdCoordination } from '@concord/coordination-client';
import { type ProcessGroup, type ProcessHandle, startEtcd, waitFor } from '@concord/infra';
import {
  ADMIN_TOKEN,
  CLIENT_TOKEN,
  ELECTION_TIMEOUT_MAX_MS,
  SERVICE_TOKENS,
  startCoordinatorCluster,
} from './cluster.js';

export type BackendName = 'concord' | 'etcd';

/** Every backend the parametrized suites run on. */
export const BACKENDS: readonly BackendName[] = ['concord', 'etcd'];

export interface BackendMember {
  readonly id: string;
  readonly proc: ProcessHandle;
}

export interface BackendCluster {
  readonly name: BackendName;
  readonly members: readonly BackendMember[];
  /** What an app needs in its environment to use this cluster. */
  readonly env: Readonly<Record<string, string>>;
  /** The environment of one app: on Concord it holds only that service's coordinator token. */
  envFor(service: string): Readonly<Record<string, string>>;
  /** `<backend> <endpoints> <token>`: how a fixture process is told where the cluster is. */
  readonly fixtureArgs: readonly string[];
  /** Longest election timeout of the cluster's consensus: a failover bound is a small multiple of it. */
  readonly electionTimeoutMaxMs: number;
  /** A client; `failFast` gives up on one call after 1 s (a write in flight to a dying leader) and moves on. */
  /** With `admin`, Concord's admin token (every route: config/ writes, any service's registry). */
  client(options?: { urls?: readonly string[]; failFast?: boolean; admin?: boolean }): Coordination;
  /** The current leader as a live member sees it. */
  leader(): Promise<BackendMember>;
  readonly endpoints: readonly string[];
  stop(): Promise<void>;
}

export async function startBackend(name: BackendName, group: ProcessGroup): Promise<BackendCluster> {
  return name === 'concord' ? startConcord(group) : startEtcdBackend();
}

/** A client for `backend` at `endpoints`, as a fixture process builds it from its argv. */
export function clientFor(backend: string, endpoints: readonly string[], token: string): Coordination {
  return backend === 'etcd'
    ? new EtcdCoordination({ endpoints })
    : new CoordinationClient({ urls: endpoints, token });
}

async function startConcord(group: ProcessGroup): Promise<BackendCluster> {
  const cluster = await startCoordinatorCluster(group, 3);
  return {
    name: 'concord',
    members: cluster.nodes,
    endpoints: cluster.urls,
    env: {
      COORDINATION_BACKEND: 'concord',
      COORDINATOR_URLS: cluster.urls.join(','),
      COORDINATOR_TOKEN: CLIENT_TOKEN,
    },
    envFor: (service) => ({
      COORDINATION_BACKEND: 'concord',
      COORDINATOR_URLS: cluster.urls.join(','),
      COORDINATOR_TOKEN: SERVICE_TOKENS[service] ?? '',
    }),
    fixtureArgs: ['concord', cluster.urls.join(','), CLIENT_TOKEN],
    electionTimeoutMaxMs: ELECTION_TIMEOUT_MAX_MS,
    client: (options = {}) =>
      new CoordinationClient({
        urls: options.urls ?? cluster.urls,
        token: options.admin === true ? ADMIN_TOKEN : CLIENT_TOKEN,
        ...(options.failFast ? { requestTimeoutMs: 1_000, attempts: 20 } : {}),
      }),
    leader: () => cluster.leader(),
    stop: () => Promise.all(cluster.nodes.map((n) => n.proc.stop())).then(() => undefined),
  };
}

/**
 * etcd's default `--election-timeout` is 1000 ms, which the harness keeps; a follower waits a random time in
 * [timeout, 2 × timeout) before campaigning (as Concord's nodes do in [10, 20) ticks), so the longest is 2 s.
 */
const ETCD_ELECTION_TIMEOUT_MAX_MS = 2_000;

async function startEtcdBackend(): Promise<BackendCluster> {
  const etcd = await startEtcd({ members: 3 });
  const members = etcd.members.map((m) => ({ id: m.name, proc: m.process, endpoint: m.endpoint }));
  return {
    name: 'etcd',
    members,
    endpoints: etcd.endpoints,
    env: { COORDINATION_BACKEND: 'etcd', ETCD_ENDPOINTS: etcd.endpoints.join(',') },
    envFor: () => ({ COORDINATION_BACKEND: 'etcd', ETCD_ENDPOINTS: etcd.endpoints.join(',') }),
    fixtureArgs: ['etcd', etcd.endpoints.join(','), '-'],
    electionTimeoutMaxMs: ETCD_ELECTION_TIMEOUT_MAX_MS,
    client: (options = {}) =>
      new EtcdCoordination({
        endpoints: options.urls ?? etcd.endpoints,
        ...(options.failFast ? { requestTimeoutMs: 1_000 } : {}),
      }),
    // Each live member reports its own id and the leader's through the gRPC gateway's maintenance status.
    leader: () =>
      waitFor(
        async () => {
          const statuses = await Promise.all(
            members.map(async (m) => {
              if (m.proc.exit !== undefined) return undefined;
              const response = await fetch(`${m.endpoint}/v3/maintenance/status`, {
                method: 'POST',
                body: '{}',
                signal: AbortSignal.timeout(1_000),
              }).catch(() => undefined);
              if (response?.ok !== true) return undefined;
              const body = (await response.json()) as { header?: { member_id?: string }; leader?: string };
              return { member: m, id: body.header?.member_id, leader: body.leader };
            }),
          );
          const known = statuses.filter((s) => s !== undefined);
          const leaderId = known.find((s) => s.leader !== undefined && s.leader !== '0')?.leader;
          const leader = known.find((s) => s.id === leaderId)?.member;
          return leader !== undefined && leader.proc.exit === undefined ? leader : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 50, description: 'a live etcd leader is known' },
      ),
    stop: () => etcd.stop(),
  };
}
