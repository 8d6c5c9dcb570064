import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, type ProcessGroup, type ProcessHandle, waitFor } from '@concord/infra';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLIENT_TOKEN = 'coordinator-client-token-for-tests';
/** Cluster changes and config/ writes (roles: apps/coordinator/src/api/access.ts). */
export const ADMIN_TOKEN = 'coordinator-admin-token-for-tests';
/** Read-only (what the gateway holds). */
export const READ_TOKEN = 'coordinator-read-token-for-tests';
/** Per-service tokens: each registers only its own instances. */
export const SERVICE_TOKENS: Readonly<Record<string, string>> = Object.fromEntries(
  ['orders', 'inventory', 'payments', 'orchestrator'].map((s) => [s, `coordinator-${s}-token-for-tests`]),
);
const CLUSTER_SECRET = 'coordinator-cluster-secret-for-tests';
/** Raft timing of the test clusters: ticks of 50 ms, election timeout 10–20 ticks (0.5–1 s). */
export const TICK_MS = 50;
export const ELECTION_TICKS = 10;
export const ELECTION_TIMEOUT_MAX_MS = 2 * ELECTION_TICKS * TICK_MS;

export interface CoordinatorNode {
  readonly id: string;
  readonly port: number;
  readonly peerPort: number;
  readonly url: string;
  readonly dataDir: string;
  proc: ProcessHandle;
}

export interface CoordinatorCluster {
  readonly nodes: CoordinatorNode[];
  /** Starts one more node with an empty data dir and JOIN=true; it waits to be added as a learner. */
  join(id: string): Promise<CoordinatorNode>;
  readonly urls: string[];
  leader(): Promise<CoordinatorNode>;
  node(id: string): CoordinatorNode;
}

const auth = { authorization: `Bearer ${CLIENT_TOKEN}` };

/**
 * Starts `size` real coordinator processes (built: dist/) forming one Raft cluster; waits until all are ready.
 * Free ports are only free a moment ago: if another process takes one first, the attempt is torn down and
 * retried on new ports.
 */
export async function startCoordinatorCluster(
  group: ProcessGroup,
  size = 3,
  /** Extra environment of every node, e.g. `{ LOG_LEVEL: 'info' }`. */
  env: Record<string, string> = {},
): Promise<CoordinatorCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startCoordinatorClusterOnce(group, size, env);
    } catch (error) {
      const portTaken = /EADDRINUSE|cannot listen/.test(String((error as Error).message));
      if (!portTaken || attempt >= 3) throw error;
      await Promise.all(
        group.processes.filter((p) => p.name.startsWith('coordinator-')).map((p) => p.stop(2_000)),
      );
    }
  }
}

async function startCoordinatorClusterOnce(
  group: ProcessGroup,
  size: number,
  extraEnv: Record<string, string>,
): Promise<CoordinatorCluster> {
  const specs = await Promise.all(
    Array.from({ length: size }, async (_, i) => ({
      id: `n${i + 1}`,
      port: await freePort(),
      peerPort: await freePort(),
      dataDir: await mkdtemp(path.join(os.tmpdir(), `concord-coord-n${i + 1}-`)),
    })),
  );
  let peers = specs.map((s) => `${s.id}=127.0.0.1:${s.peerPort}`).join(',');
  let apiUrls = specs.map((s) => `${s.id}=http://127.0.0.1:${s.port}`).join(',');
  const launch = async (s: (typeof specs)[number], join: boolean): Promise<CoordinatorNode> => {
    const proc = await group.start({
      name: `coordinator-${s.id}`,
      command: process.execPath,
      args: [path.join(ROOT, 'dist/apps/coordinator/src/main.js')],
      cwd: ROOT,
      env: {
        PORT: String(s.port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        NODE_ID: s.id,
        PEER_PORT: String(s.peerPort),
        PEERS: peers,
        API_URLS: apiUrls,
        DATA_DIR: s.dataDir,
        // Small segments: each is zero-filled before use, and these clusters are started many times over.
        WAL_SEGMENT_BYTES: String(1024 * 1024),
        CLUSTER_SECRET,
        CLIENT_TOKEN,
        ADMIN_TOKEN,
        READ_TOKEN,
        SERVICE_TOKENS: Object.entries(SERVICE_TOKENS)
          .map(([service, token]) => `${service}=${token}`)
          .join(','),
        RAFT_TICK_MS: String(TICK_MS),
        RAFT_ELECTION_TICKS: String(ELECTION_TICKS),
        PROPOSE_TIMEOUT_MS: '2000',
        LEASE_CHECK_INTERVAL_MS: '100',
        JOIN: String(join),
        // The transport's fault switch (PUT /admin/faults/partition), for the partition nemesis.
        FAULT_INJECTION: 'true',
        ...extraEnv,
      },
      // A joining node is not ready until it is a member and knows the leader.
      ...(join ? {} : { ready: { url: `http://127.0.0.1:${s.port}/health/ready`, timeoutMs: 60_000 } }),
    });
    return { ...s, url: `http://127.0.0.1:${s.port}`, proc };
  };
  const nodes = await Promise.all(specs.map((s) => launch(s, false)));
  const node = (id: string) => {
    const found = nodes.find((n) => n.id === id);
    if (found === undefined) throw new Error(`no node ${id}`);
    return found;
  };
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    node,
    async join(id: string) {
      const spec = {
        id,
        port: await freePort(),
        peerPort: await freePort(),
        dataDir: await mkdtemp(path.join(os.tmpdir(), `concord-coord-${id}-`)),
      };
      peers += `,${id}=127.0.0.1:${spec.peerPort}`;
      apiUrls += `,${id}=http://127.0.0.1:${spec.port}`;
      const joined = await launch(spec, true);
      nodes.push(joined);
      return joined;
    },
    /** The leader as a live node sees it (polls until one is known). */
    leader: () =>
      waitFor(
        async () => {
          for (const n of nodes) {
            if (n.proc.exit !== undefined) continue;
            const response = await fetch(`${n.url}/v1/cluster`, {
              headers: auth,
              signal: AbortSignal.timeout(1_000),
            }).catch(() => undefined);
            if (response?.ok !== true) continue;
            const view = (await response.json()) as { leader: string | null };
            // A member removed and added back has a stopped namesake earlier in the list: take the live one.
            const leader = nodes.find((m) => m.id === view.leader && m.proc.exit === undefined);
            if (leader !== undefined) return leader;
          }
          return undefined;
        },
        { timeoutMs: 20_000, intervalMs: 50, description: 'a live leader is known' },
      ),
  };
}
