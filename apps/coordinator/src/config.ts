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
        const [id, address] = part.split('=');
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
  CLUSTER_SECRET: env.secret(
    'Shared secret that peers authenticate each other with (at least 16 characters).',
  ),
  CLIENT_TOKEN: env.secret('Bearer token clients must present on the HTTP API (at least 16 characters).'),
  JOIN: env.bool('Start with an empty data directory as a learner joining an existing cluster.', false),
});

export type CoordinatorConfig = z.infer<typeof coordinatorConfigSchema>;
