import { natsCredentials, natsListener, runApp, serveOpenApi } from '@concord/platform';
import { inventoryConfigSchema } from './config.js';
import { InventoryModule } from './inventory.module.js';

await runApp({
  name: 'inventory',
  configSchema: inventoryConfigSchema,
  module: (config) => InventoryModule.register(config),
  configure: async (app, config) => {
    serveOpenApi(app, 'Concord inventory', 'Products, receipts and stock reservations.');
    app.connectMicroservice(natsListener(config.NATS_URL, 'inventory', natsCredentials(config)), {
      inheritAppConfig: true,
    });
    await app.startAllMicroservices();
  },
});
