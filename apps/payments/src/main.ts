import { natsListener, runApp } from '@concord/platform';
import { paymentsConfigSchema } from './config.js';
import { PaymentsModule } from './payments.module.js';

await runApp({
  name: 'payments',
  configSchema: paymentsConfigSchema,
  module: (config) => PaymentsModule.register(config),
  configure: async (app, config) => {
    app.connectMicroservice(natsListener(config.NATS_URL, 'payments'), { inheritAppConfig: true });
    await app.startAllMicroservices();
  },
});
