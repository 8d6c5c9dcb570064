import { runApp } from '@concord/platform';
import { orchestratorApp } from './orchestrator.app.js';

await runApp(orchestratorApp);
