/**
 * `npm run compose:nats`: writes docker/nats/nats-server.conf from libs/contracts/src/nats-permissions.ts (see
 * nats-config.ts). `--check` writes nothing and exits 1 when the file is not current.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { COMPOSE_NATS_CONFIG_FILE, composeNatsConfig } from './nats-config.js';

const file = path.resolve(import.meta.dirname, '../..', COMPOSE_NATS_CONFIG_FILE);
const wanted = composeNatsConfig();
let current = '';
try {
  current = readFileSync(file, 'utf8');
} catch {
  // missing: written below
}
if (process.argv.includes('--check')) {
  if (current !== wanted) {
    process.stderr.write(`${COMPOSE_NATS_CONFIG_FILE} is not current: run npm run compose:nats\n`);
    process.exit(1);
  }
  process.stdout.write(`${COMPOSE_NATS_CONFIG_FILE} is current\n`);
} else if (current === wanted) {
  process.stdout.write(`${COMPOSE_NATS_CONFIG_FILE} is current\n`);
} else {
  writeFileSync(file, wanted);
  process.stdout.write(`wrote ${COMPOSE_NATS_CONFIG_FILE}\n`);
}
