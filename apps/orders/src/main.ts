import { natsCredentials, natsListener, runApp, serveOpenApi } from '@concord/platform';
import { ordersConfigSchema } from './config.js';
import { OrdersModule } from './orders.module.js';

await runApp({
  name: 'orders',
  configSchema: ordersConfigSchema,
  module: (config) => OrdersModule.register(config),
  configure: async (app, config) => {
    serveOpenApi(app, 'Concord orders', 'Places orders through the orchestrator (saga or two-phase commit).');
    app.connectMicroservice(natsListener(config.NATS_URL, 'orders', natsCredentials(config)), {
      inheritAppConfig: true,
    });
    await app.startAllMicroservices();
  },
});
