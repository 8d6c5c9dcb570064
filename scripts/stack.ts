/**
 * `npm run stack`: the whole topology on this machine, without Docker.
 *
 * Private PostgreSQL and NATS (or the ones named by DATABASE_URL and NATS_URL), 3 coordinator nodes (or, with
 * `--coordination etcd`, a private 3-member etcd or the one named by ETCD_ENDPOINTS), 2 instances
 * of each domain service, 2 orchestrators and the gateway. State lives under .data/ so a restart keeps it; Ctrl-C
 * stops everything and leaves no process behind. Every port is overridable (see scripts/stack/config.ts).
 */
import { parseStackArgs } from './stack/config.js';
import { runStack } from './stack/run-stack.js';

let flags: Record<string, string>;
try {
  flags = parseStackArgs(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`stack: ${(error as Error).message}\n`);
  process.exit(1);
}
await runStack({ ...process.env, ...flags });
