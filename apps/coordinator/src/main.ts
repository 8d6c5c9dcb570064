import { runApp, serveOpenApi } from '@concord/platform';
import { installLeanKvRoutes } from './api/kv-lean-route.js';
import { BODY_BYTES_MAX } from './api/schemas.js';
import { coordinatorConfigSchema } from './config.js';
import { CoordinatorModule } from './coordinator.module.js';
import { createRaftBinding } from './raft/raft-binding.js';

await runApp({
  name: 'coordinator',
  configSchema: coordinatorConfigSchema,
  bodyLimitBytes: BODY_BYTES_MAX,
  // Every instance of every service renews its lease every few seconds, and dashboards (the stack's status
  // line, the demos) poll the cluster view: at debug, not info.
  // Keys and transactions are the hot path: their per-request line is at debug too (errors and slow requests
  // still log at info or above).
  quietRoutes: ['/v1/leases/:id/keepalive', '/v1/cluster', '/v1/kv/*', '/v1/txn'],
  module: (config) => CoordinatorModule.register(config, createRaftBinding),
  configure: (app) => {
    installLeanKvRoutes(app);
    serveOpenApi(
      app,
      'Concord coordinator',
      'Raft-replicated keys, leases, locks, elections and service registry (etcd v3 semantics).',
    );
  },
});
