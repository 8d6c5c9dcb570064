import { natsListener, runApp } from '@concord/platform';
import { orchestratorConfigSchema } from './config.js';
import { OrchestratorModule } from './orchestrator.module.js';

await runApp({
  name: 'orchestrator',
  configSchema: orchestratorConfigSchema,
  module: (config) => OrchestratorModule.register(config),
  configure: async (app, config) => {
    app.connectMicroservice(natsListener(config.NATS_URL, 'orchestrator'), { inheritAppConfig: true });
    await app.startAllMicroservices();
  },
});
