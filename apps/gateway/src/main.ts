import { runApp } from '@concord/platform';
import { gatewayDefinition } from './gateway.app.js';

await runApp(gatewayDefinition());
