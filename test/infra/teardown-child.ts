/*
 * Fixture for libs/infra/src/teardown.int.ts: starts PostgreSQL, NATS and a plain child process, prints where they
 * are as one JSON line, then fails in the way argv[2] asks: `throw` (an uncaught error) or `wait` (until the test
 * sends it a signal). Whatever happens, nothing it started may survive it.
 */
import path from 'node:path';

import { startNats, startPostgres, startProcess } from '../../libs/infra/src/index.js';

const mode = process.argv[2] ?? 'throw';

const postgres = await startPostgres({ databases: ['fixture'] });
const nats = await startNats();
const sleeper = await startProcess({
  name: 'sleeper',
  command: process.execPath,
  args: ['-e', 'setInterval(() => {}, 60_000)'],
});

process.stdout.write(
  `${JSON.stringify({
    postgres: { port: postgres.port, pid: postgres.process.pid, dir: postgres.dataDir },
    nats: { port: nats.port, pid: nats.process.pid, dir: nats.storeDir },
    sleeper: { pid: sleeper.pid },
    logDir: path.dirname(sleeper.logFile),
  })}\n`,
);

if (mode === 'throw') throw new Error('fixture: deliberate failure with infrastructure running');
// Wait for the test's signal; the interval only keeps the event loop alive.
setInterval(() => undefined, 60_000);
