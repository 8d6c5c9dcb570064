import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadStackConfig, servicePorts, type StackConfig } from '../stack/config.js';

/** What a process needs to join the stack `npm start` runs: its config, secrets and server addresses. */
export interface RunningStack {
  readonly config: StackConfig;
  readonly dataDir: string;
  readonly databaseUrl: (database: string) => string;
  /** The URL a service connects with: its own role on its own database. */
  readonly serviceDatabaseUrl: (service: string) => string;
  readonly natsUrl: string;
  readonly coordinatorUrls: string;
  readonly secret: (file: string) => string;
}

/**
 * Reads the running stack's settings the way `npm start` made them: the same environment overrides (ports,
 * STACK_DATA_DIR, DATABASE_URL, NATS_URL) and the secrets it generated under the data dir.
 */
export function runningStack(root: string, environment: Record<string, string | undefined>): RunningStack {
  const config = loadStackConfig(environment);
  const dataDir = path.resolve(root, config.STACK_DATA_DIR);
  const secret = (file: string): string => {
    const full = path.join(dataDir, file);
    if (!existsSync(full)) throw new Error(`${full} not found: start the stack first (npm start)`);
    return readFileSync(full, 'utf8').trim();
  };
  /** The service's own role (the stack creates one per database, password in .data/postgres-<service>.password). */
  const serviceDatabaseUrl = (service: string): string => {
    if (config.DATABASE_URL !== undefined) return databaseUrl(service);
    const password = encodeURIComponent(secret(`postgres-${service}.password`));
    return `postgres://${service}:${password}@127.0.0.1:${config.POSTGRES_PORT}/${service}`;
  };
  const databaseUrl = (database: string): string => {
    const base =
      config.DATABASE_URL ??
      `postgres://concord:${encodeURIComponent(secret('postgres/password'))}@127.0.0.1:${config.POSTGRES_PORT}/`;
    const url = new URL(base);
    url.pathname = `/${database}`;
    return url.toString();
  };
  return {
    config,
    dataDir,
    databaseUrl,
    serviceDatabaseUrl,
    natsUrl: config.NATS_URL ?? `nats://127.0.0.1:${config.NATS_PORT}`,
    coordinatorUrls: config.COORDINATOR_PORTS.map((p) => `http://127.0.0.1:${p}`).join(','),
    secret,
  };
}

export { servicePorts };
