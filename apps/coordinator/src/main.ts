import { runApp } from '@concord/platform';
import { coordinatorConfigSchema } from './config.js';
import { CoordinatorModule } from './coordinator.module.js';

await runApp({
  name: 'coordinator',
  configSchema: coordinatorConfigSchema,
  module: (config) => CoordinatorModule.register(config),
});
