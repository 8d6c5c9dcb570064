import { natsListener, runApp } from '@concord/platform';
import { inventoryConfigSchema } from './config.js';
import { InventoryModule } from './inventory.module.js';

await runApp({
  name: 'inventory',
  configSchema: inventoryConfigSchema,
  module: (config) => InventoryModule.register(config),
  configure: async (app, config) => {
    app.connectMicroservice(natsListener(config.NATS_URL, 'inventory'), { inheritAppConfig: true });
    await app.startAllMicroservices();
  },
});
