import { DEFAULT_PORTS, DOMAIN_SERVICES } from '@concord/contracts';
import { env, loadConfig } from '@concord/platform';
import { z } from 'zod';

const portList = (description: string, fallback: readonly number[]) =>
  z
    .string()
    .default(fallback.join(','))
    .transform((raw, ctx) => {
      const ports = raw.split(',').map((s) => Number(s.trim()));
      if (ports.length !== fallback.length || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
        ctx.addIssue({ code: 'custom', message: `must be ${fallback.length} comma-separated port numbers` });
      }
      return ports;
    })
    .describe(description);

const serviceShapes = Object.fromEntries(
  DOMAIN_SERVICES.map((s) => [
    `${s.app.toUpperCase()}_PORTS`,
    portList(`HTTP ports of the ${s.app} instances.`, s.ports),
  ]),
);

export const stackConfigSchema = z.object({
  STACK_DATA_DIR: env.string('Where the stack keeps its state and generated secrets.', '.data'),
  GATEWAY_PORT: env.port('Gateway HTTP port.', DEFAULT_PORTS.gateway),
  CONSOLE_PORT: env.port('Console HTTP port (the gateway routes /console to it).', DEFAULT_PORTS.console),
  COORDINATOR_PORTS: portList('HTTP API ports of the 3 coordinator nodes.', DEFAULT_PORTS.coordinatorApi),
  COORDINATOR_PEER_PORTS: portList(
    'Raft peer ports of the 3 coordinator nodes.',
    DEFAULT_PORTS.coordinatorPeer,
  ),
  COORDINATOR_HOST: env.string(
    'Address the coordinators bind their API and Raft peer listeners to (0.0.0.0 to reach them from elsewhere).',
    '127.0.0.1',
  ),
  STACK_FAULT_INJECTION: env.bool(
    "Mount the coordinators' Raft fault switch (PUT /admin/faults/partition: loopback only, admin token) for `npm run demo -- partition`; false to leave it out.",
    true,
  ),
  POSTGRES_PORT: env.port('Port of the private PostgreSQL.', DEFAULT_PORTS.postgres),
  NATS_PORT: env.port('Port of the private NATS server.', DEFAULT_PORTS.nats),
  DATABASE_URL: env.optionalString(
    'Use this PostgreSQL server (any database path) instead of a private one.',
  ),
  NATS_URL: env.optionalString('Use this NATS server instead of a private one.'),
  STACK_READY_TIMEOUT_MS: env.int('How long each process may take to become ready.', 60_000, 1_000),
  LOG_LEVEL: env.logLevel(),
  ...serviceShapes,
});

export type StackConfig = z.infer<typeof stackConfigSchema> & Record<string, unknown>;

export function loadStackConfig(environment: Record<string, string | undefined>): StackConfig {
  return loadConfig(stackConfigSchema, environment);
}

export function servicePorts(config: StackConfig, app: string): number[] {
  return config[`${app.toUpperCase()}_PORTS`] as number[];
}
