import type { AppDefinition } from '@concord/platform';
import { consoleConfigSchema } from './config.js';
import { ConsoleModule } from './console.module.js';

/** The console as runApp boots it: a page and a live feed of the coordinator, the rings and the sagas. */
export const consoleApp: AppDefinition<typeof consoleConfigSchema> = {
  name: 'console',
  configSchema: consoleConfigSchema,
  module: (config) => ConsoleModule.register(config),
  bodyLimitBytes: 1024,
};
