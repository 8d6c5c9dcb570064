import { baseConfigShape, env } from '@concord/platform';
import { z } from 'zod';

/** `n1=host:7101,n2=host:7102` → Map(n1 → host:7101). */
const idMap = (description: string) =>
  z
    .string()
    .transform((raw, ctx) => {
      const map = new Map<string, string>();
      for (const part of raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const at = part.indexOf('=');
        const [id, address] = at < 0 ? [part, ''] : [part.slice(0, at), part.slice(at + 1)];
        if (!id || !address) ctx.addIssue({ code: 'custom', message: `"${part}" is not id=address` });
        else map.set(id, address);
      }
      return map;
    })
    .describe(description);

export const coordinatorConfigSchema = z.object({
  ...baseConfigShape,
  PORT: env.port('HTTP API port of this coordinator node.', 7001),
  NODE_ID: env.string("This node's id in the Raft cluster (e.g. n1)."),
  PEER_PORT: env.port('TCP port for Raft traffic between coordinator nodes.', 7101),
  PEERS: idMap(
    'Raft peer addresses of every initial member, this node included: n1=host:7101,n2=host:7102,...',
  ),
  API_URLS: idMap('HTTP API URLs of every member, for forwarding to the leader: n1=http://host:7001,...'),
  DATA_DIR: env.string("Directory for the Raft WAL and snapshots; a restart with it keeps the node's state."),
  WAL_SEGMENT_BYTES: env.int(
    'Size of each WAL segment file. Segments are zero-filled to this size before use (the next one in the background), so that each fsync flushes data only; etcd also uses 64 MiB.',
    64 * 1024 * 1024,
    64 * 1024,
    1024 * 1024 * 1024,
  ),
  CLUSTER_SECRET: env.secret(
    'Shared secret that peers authenticate each other with (at least 16 characters).',
  ),
  CLIENT_TOKEN: env.secret(
    'General client token: KV, leases, locks, elections and watches outside config/ and services/, reads everywhere, no cluster changes.',
  ),
  ADMIN_TOKEN: env.secret(
    'Admin token: everything, including /v1/cluster/* changes and writes under config/ and services/.',
  ),
  READ_TOKEN: env
    .secret('Read-only token (the gateway): reads and watches everywhere, no writes. Unset: no such token.')
    .optional(),
  SERVICE_TOKENS: idMap(
    'Per-service tokens, service=token,...: each may register only services/{service}/*, keep leases and read config/.',
  )
    .refine((tokens) => [...tokens.values()].every((t) => t.length >= 16), {
      message: 'every service token must be at least 16 characters',
    })
    .default(new Map()),
  WATCHES_PER_TOKEN_MAX: env.int(
    'Open watches one token may hold at once on this node (429 beyond).',
    1_024,
    1,
  ),
  WATCH_BUFFERED_BYTES_MAX: env.int(
    'A watcher that lets more than this many bytes pile up unread is cut off with a `cancelled` event.',
    8 * 1024 * 1024,
    64 * 1024,
  ),
  RAFT_TICK_MS: env.int(
    'Length of one Raft tick; election timeouts and heartbeats are counted in ticks.',
    100,
    5,
    10_000,
  ),
  RAFT_ELECTION_TICKS: env.int(
    'Base election timeout in ticks (each term draws one in [base, 2 × base)).',
    10,
    3,
  ),
  RAFT_HEARTBEAT_TICKS: env.int('Leader heartbeat interval in ticks.', 1, 1),
  SNAPSHOT_EVERY_ENTRIES: env.int(
    'Take a snapshot and compact the log after this many applied entries (etcd 3.4+: --snapshot-count 100000). Each snapshot encodes every key and the whole watch history (each record once), so a low value costs CPU under write load. Voters take turns: each snapshots at its own offset within the interval.',
    100_000,
    10,
  ),
  LEASE_CHECK_INTERVAL_MS: env.int('How often the leader looks for expired leases.', 250, 10),
  COMPACTION_INTERVAL_MS: env.int(
    'History for watches is kept at least this long before compaction.',
    300_000,
    1_000,
  ),
  HISTORY_EVENTS_MAX: env.int(
    'History for watches and past reads keeps at most this many events (older ones are compacted).',
    100_000,
    100,
  ),
  HISTORY_BYTES_MAX: env.int(
    'History keeps at most about this many bytes of keys and values (older events are compacted).',
    64 * 1024 * 1024,
    64 * 1024,
  ),
  PROPOSE_TIMEOUT_MS: env.int(
    'A write not committed within this answers 503 (its outcome is then unknown).',
    5_000,
    100,
  ),
  FAULT_INJECTION: env.bool(
    'Tests and demos only: mount PUT /admin/faults/partition (loopback, bearer token) that cuts this node off from given Raft peers.',
    false,
  ),
  JOIN: env.bool('Start with an empty data directory as a learner joining an existing cluster.', false),
});

export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;
