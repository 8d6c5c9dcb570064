import path from 'node:path';
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
  HOST: env.string(
    'Address every HTTP and Raft peer listener of the stack binds to (PostgreSQL and NATS stay on 127.0.0.1).',
    '127.0.0.1',
  ),
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
  STACK_COORDINATION: z
    .enum(['concord', 'etcd'], { message: 'must be concord or etcd' })
    .default('concord')
    .describe(
      "Coordination backend (`npm run stack -- --coordination etcd`): Concord's 3 coordinator nodes, or a " +
        'private 3-member etcd on the same ports (COORDINATOR_PORTS as client ports, COORDINATOR_PEER_PORTS as peer ports).',
    ),
  ETCD_ENDPOINTS: env.optionalString(
    'With --coordination etcd: use this etcd cluster (comma-separated client URLs) instead of a private one.',
  ),
  STACK_READY_TIMEOUT_MS: env.int('How long each process may take to become ready.', 60_000, 1_000),
  STACK_CPU_PROF: env.optionalString(
    '`npm run stack -- --cpu-prof DIR`: run every app under `node --cpu-prof`, each writing `<process>.<start ms>.cpuprofile` to DIR when it exits (Ctrl-C stops the stack gracefully; summarize one with `npx tsx scripts/bench-gateway/profile-summary.ts FILE`). Node refuses --cpu-prof in NODE_OPTIONS, hence the flag.',
  ),
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

/**
 * Command-line flags of `npm run stack`, as the variables they set: `--coordination <concord|etcd>`,
 * `--cpu-prof <dir>`.
 */
export function parseStackArgs(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg];
    if (flag === '--coordination') {
      const value = inline ?? args[++i];
      if (value === undefined) throw new Error('--coordination needs a value: concord or etcd');
      out['STACK_COORDINATION'] = value;
    } else if (flag === '--cpu-prof') {
      const value = inline ?? args[++i];
      if (value === undefined || value === '') throw new Error('--cpu-prof needs a directory');
      out['STACK_CPU_PROF'] = value;
    } else {
      throw new Error(`unknown argument ${arg} (known: --coordination <concord|etcd>, --cpu-prof <dir>)`);
    }
  }
  return out;
}
/**
 * Node flags that profile one app process for its whole life (`--cpu-prof`), the file named after the process and
 * the time it started; none without a directory.
 */
export function cpuProfileArgs(dir: string | undefined, name: string, nowMs = Date.now()): string[] {
  if (dir === undefined || dir === '') return [];
  return ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir)}`, `--cpu-prof-name=${name}.${nowMs}.cpuprofile`];
}
