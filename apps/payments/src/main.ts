import { natsCredentials, natsListener, runApp, serveOpenApi } from '@concord/platform';
import { paymentsConfigSchema } from './config.js';
import { PaymentsModule } from './payments.module.js';

await runApp({
  name: 'payments',
  configSchema: paymentsConfigSchema,
  module: (config) => PaymentsModule.register(config),
  configure: async (app, config) => {
    serveOpenApi(app, 'Concord payments', 'Accounts, deposits, holds, captures and the ledger.');
    app.connectMicroservice(natsListener(config.NATS_URL, 'payments', natsCredentials(config)), {
      inheritAppConfig: true,
    });
    await app.startAllMicroservices();
  },
});
