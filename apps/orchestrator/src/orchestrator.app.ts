import { natsCredentials, natsListener, serveOpenApi, type AppDefinition } from '@concord/platform';
import { orchestratorConfigSchema } from './config.js';
import { OrchestratorModule } from './orchestrator.module.js';

/** The orchestrator as `runApp` boots it: HTTP API plus the NATS listener (queue group "orchestrator"). */
export const orchestratorApp: AppDefinition<typeof orchestratorConfigSchema> = {
  name: 'orchestrator',
  configSchema: orchestratorConfigSchema,
  module: (config) => OrchestratorModule.register(config),
  configure: async (app, config) => {
    serveOpenApi(
      app,
      'Concord orchestrator',
      'Sagas and two-phase commit (operators only: admin scope): start a workflow (Idempotency-Key required), read an instance, list them.',
    );
    app.connectMicroservice(natsListener(config.NATS_URL, 'orchestrator', natsCredentials(config)), {
      inheritAppConfig: true,
    });
    await app.startAllMicroservices();
  },
};
