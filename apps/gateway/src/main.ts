import { runApp } from '@concord/platform';
import { gatewayConfigSchema } from './config.js';
import { GatewayModule } from './gateway.module.js';

await runApp({
  name: 'gateway',
  configSchema: gatewayConfigSchema,
  module: (config) => GatewayModule.register(config),
});
