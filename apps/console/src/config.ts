import { baseConfigShape, env } from '@concord/platform';
import { z } from 'zod';

export const consoleConfigSchema = z.object({
  ...baseConfigShape,
  HOST: env.string('Address the console binds to (the gateway routes /console here).', '127.0.0.1'),
  PORT: env.port('HTTP port of the console.', 8501),
  CONSOLE_ADMIN_TOKEN: env.secret(
    "Bearer token a browser must present to read the live picture (the stack uses the gateway's ADMIN_TOKEN).",
  ),
  COORDINATOR_URLS: env.urlList(
    'Comma-separated API URLs of every coordinator node (each is asked for its view).',
  ),
  COORDINATOR_TOKEN: env.optionalString('Coordinator token that may read GET /v1/cluster.'),
  GATEWAY_URL: z.url({ message: 'must be a URL' }).optional().describe('The gateway whose rings are shown.'),
  GATEWAY_ADMIN_TOKEN: env.optionalString("The gateway's ADMIN_TOKEN (reads /admin/rings and /metrics)."),
  ORCHESTRATOR_URLS: env.urlList('Comma-separated URLs of the orchestrator instances (any one answers).'),
  ORCHESTRATOR_TOKEN: env.optionalString(
    'Credential that may list sagas and transactions on the orchestrator.',
  ),
  JAEGER_URL: z
    .url({ message: 'must be a URL' })
    .optional()
    .describe('Jaeger UI, linked from each transaction when set (traces of one order share its trace).'),
  CONSOLE_POLL_INTERVAL_MS: env.int(
    'How often the system is read and the pages updated while a console page is open (no page open: no polling).',
    500,
    100,
    10_000,
  ),
  CONSOLE_RECENT_TRANSACTIONS: env.int('Recent sagas and 2PC transactions shown (each kind).', 12, 1, 100),
  CONSOLE_SOURCE_TIMEOUT_MS: env.int('Deadline of each read of a part of the system.', 800, 50, 10_000),
  CONSOLE_VIEWERS_MAX: env.int('Pages that may watch at once.', 32, 1, 10_000),
});

export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;
