/**
 * `npm run stack`: the whole topology on this machine, without Docker.
 *
 * Private PostgreSQL and NATS (or the ones named by DATABASE_URL and NATS_URL), 3 coordinator nodes, 2 instances
 * of each domain service, 2 orchestrators and the gateway. State lives under .data/ so a restart keeps it; Ctrl-C
 * stops everything and leaves no process behind. Every port is overridable (see scripts/stack/config.ts).
 */
import { runStack } from './stack/run-stack.js';

await runStack(process.env);
