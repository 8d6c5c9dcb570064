import { runApp } from '@concord/platform';
import { consoleApp } from './console.app.js';

await runApp(consoleApp);
