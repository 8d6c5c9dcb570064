import { runApp, serveOpenApi } from '@concord/platform';
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
  quietRoutes: ['/v1/leases/:id/keepalive', '/v1/cluster'],
  module: (config) => CoordinatorModule.register(config, createRaftBinding),
  configure: (app) => {
    serveOpenApi(
      app,
      'Concord coordinator',
      'Raft-replicated keys, leases, locks, elections and service registry (etcd v3 semantics).',
    );
  },
});
