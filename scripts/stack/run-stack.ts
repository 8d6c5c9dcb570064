import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DOMAIN_SERVICES, NATS_USERS, type NatsUser, natsUserConfigs } from '@concord/contracts';
import { type ProcessHandle, startNats, startPostgres, startProcess } from '@concord/infra';
import { ConfigError, ensureInternalTokenKeyPair } from '@concord/platform';
import { loadStackConfig, servicePorts, type StackConfig } from './config.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const COLORS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];

interface Row {
  name: string;
  url: string;
  pid: number | string;
  note: string;
}

/** A secret generated at first start and kept under the data dir (mode 0600). */
async function secret(dataDir: string, file: string): Promise<string> {
  const full = path.join(dataDir, file);
  if (existsSync(full)) return (await readFile(full, 'utf8')).trim();
  const value = randomBytes(32).toString('base64url');
  await writeFile(full, `${value}\n`, { mode: 0o600 });
  return value;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function runStack(environment: Record<string, string | undefined>): Promise<void> {
  let config: StackConfig;
  try {
    config = loadStackConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`stack: invalid configuration: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const dataDir = path.resolve(ROOT, config.STACK_DATA_DIR);
  await mkdir(dataDir, { recursive: true });
  const processes: ProcessHandle[] = [];
  const rows: Row[] = [];
  const stoppers: (() => Promise<void>)[] = [];
  let colorIndex = 0;
  const nameWidth = 16;

  const prefix = (name: string) => {
    const color = COLORS[colorIndex++ % COLORS.length] ?? 37;
    const label = `\x1b[${color}m${name.padEnd(nameWidth)}\x1b[0m|`;
    return (line: string) => process.stdout.write(`${label} ${line}\n`);
  };

  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstack: stopping every process...\n');
    // Reverse start order: the gateway first, the databases last.
    await Promise.allSettled([...processes].reverse().map((p) => p.stop(10_000)));
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    process.stdout.write('stack: stopped; nothing left running.\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    // --- Infrastructure --------------------------------------------------------------------------------
    // Each service connects as its own role, owner of its own database only (the superuser only creates them).
    const serviceDatabaseUrls = new Map<string, string>();
    const databaseUrl = config.DATABASE_URL;
    if (databaseUrl === undefined) {
      const pg = await startPostgres({
        dataDir: path.join(dataDir, 'postgres'),
        port: config.POSTGRES_PORT,
        keep: true,
      });
      stoppers.push(() => pg.stop());
      for (const service of DOMAIN_SERVICES.filter((s) => s.database)) {
        const password = await secret(dataDir, `postgres-${service.app}.password`);
        serviceDatabaseUrls.set(service.app, await pg.createServiceDatabase(service.app, password));
      }
      rows.push({
        name: 'postgres',
        url: `127.0.0.1:${pg.port}`,
        pid: '-',
        note: `data in ${path.relative(ROOT, pg.dataDir)}`,
      });
    } else {
      rows.push({
        name: 'postgres',
        url: new URL(databaseUrl).host,
        pid: '-',
        note: 'external (DATABASE_URL)',
      });
    }
    // One NATS user per service, allowed to publish only what it sends and to receive only what is addressed to
    // it (libs/contracts/src/nats-permissions.ts); anonymous connections are refused.
    const natsPasswords = {} as Record<NatsUser, string>;
    for (const user of NATS_USERS) natsPasswords[user] = await secret(dataDir, `nats-${user}.password`);
    let natsUrl = config.NATS_URL;
    if (natsUrl === undefined) {
      const nats = await startNats({
        port: config.NATS_PORT,
        storeDir: path.join(dataDir, 'nats'),
        keep: true,
        users: natsUserConfigs(natsPasswords),
      });
      stoppers.push(() => nats.stop());
      natsUrl = nats.url;
      rows.push({ name: 'nats', url: nats.url, pid: '-', note: 'JetStream store in .data/nats' });
    } else {
      rows.push({ name: 'nats', url: natsUrl, pid: '-', note: 'external (NATS_URL)' });
    }

    const clientToken = await secret(dataDir, 'coordinator-token');
    const clusterSecret = await secret(dataDir, 'cluster-secret');
    const jwtSecret = await secret(dataDir, 'gateway-jwt-secret');
    // The gateway signs internal tokens with the private half; every service verifies with the public half.
    const internalKeys = ensureInternalTokenKeyPair(dataDir);
    const adminToken = await secret(dataDir, 'gateway-admin-token');

    const start = async (name: string, app: string, port: number, env: Record<string, string>) => {
      const proc = await startProcess({
        name,
        command: process.execPath,
        args: ['--enable-source-maps', path.join(ROOT, 'dist/apps', app, 'src/main.js')],
        cwd: ROOT,
        env: {
          HOST: config.HOST,
          ...env,
          PORT: String(port),
          INSTANCE_ID: name,
          LOG_LEVEL: config.LOG_LEVEL,
        },
        logFile: path.join(dataDir, 'logs', `${name}.log`),
        onLine: prefix(name),
        ready: { url: `http://127.0.0.1:${port}/health/ready`, timeoutMs: config.STACK_READY_TIMEOUT_MS },
      });
      processes.push(proc);
      rows.push({ name, url: `http://127.0.0.1:${port}`, pid: proc.pid ?? '-', note: 'ready' });
      return proc;
    };

    // --- Coordinators ----------------------------------------------------------------------------------
    const ids = ['n1', 'n2', 'n3'];
    const peers = ids.map((id, i) => `${id}=127.0.0.1:${config.COORDINATOR_PEER_PORTS[i]}`).join(',');
    const apiUrls = ids.map((id, i) => `${id}=http://127.0.0.1:${config.COORDINATOR_PORTS[i]}`).join(',');
    const coordinatorUrls = config.COORDINATOR_PORTS.map((p) => `http://127.0.0.1:${p}`).join(',');
    await Promise.all(
      ids.map((id, i) =>
        start(`coordinator-${i + 1}`, 'coordinator', config.COORDINATOR_PORTS[i] ?? 0, {
          NODE_ID: id,
          PEER_PORT: String(config.COORDINATOR_PEER_PORTS[i]),
          PEERS: peers,
          API_URLS: apiUrls,
          DATA_DIR: path.join(dataDir, 'coordinator', id),
          CLUSTER_SECRET: clusterSecret,
          CLIENT_TOKEN: clientToken,
        }),
      ),
    );

    // --- Domain services and orchestrators -------------------------------------------------------------
    const common = {
      NATS_URL: natsUrl,
      COORDINATOR_URLS: coordinatorUrls,
      COORDINATOR_TOKEN: clientToken,
    };
    await Promise.all(
      DOMAIN_SERVICES.flatMap((service) =>
        servicePorts(config, service.app).map((port, i) =>
          start(`${service.app}-${i + 1}`, service.app, port, {
            ...common,
            DATABASE_URL:
              serviceDatabaseUrls.get(service.app) ?? withDatabase(databaseUrl ?? '', service.app),
            PUBLIC_URL: `http://127.0.0.1:${port}`,
            INTERNAL_TOKEN_PUBLIC_KEY: internalKeys.publicKeyPem,
            ...(config.NATS_URL === undefined && NATS_USERS.includes(service.app as NatsUser)
              ? { NATS_USER: service.app, NATS_PASSWORD: natsPasswords[service.app as NatsUser] }
              : {}),
          }),
        ),
      ),
    );

    // --- Gateway ---------------------------------------------------------------------------------------
    await start('gateway', 'gateway', config.GATEWAY_PORT, {
      ...common,
      JWT_SECRET: jwtSecret,
      ADMIN_TOKEN: adminToken,
      INTERNAL_TOKEN_PRIVATE_KEY: internalKeys.privateKeyPem,
    });

    printTable(rows, dataDir);
  } catch (error) {
    process.stderr.write(`stack: ${(error as Error).message}\n`);
    await stopAll(1);
  }
}

function printTable(rows: Row[], dataDir: string): void {
  const widths = [16, 28, 8];
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < widths.length ? c.padEnd(widths[i] ?? 0) : c)).join('  ');
  const out = [
    '',
    'Concord stack is up:',
    '',
    line(['PROCESS', 'URL', 'PID', 'NOTE']),
    ...rows.map((r) => line([r.name, r.url, String(r.pid), r.note])),
    '',
    `Coordinator client token: ${path.join(dataDir, 'coordinator-token')}`,
    `Gateway JWT secret (HS256): ${path.join(dataDir, 'gateway-jwt-secret')}`,
    `Gateway admin token: ${path.join(dataDir, 'gateway-admin-token')}`,
    `Internal token keys (gateway signs, services verify): ${path.join(dataDir, 'internal-token-ed25519.pem')}`,
    `Service credential for direct calls: npm run token -- --internal --aud <service> [--sub <id>] [--admin]`,
    `NATS and PostgreSQL passwords (one per service): ${path.join(dataDir, 'nats-<service>.password')}, postgres-<service>.password`,
    `Logs: ${path.join(dataDir, 'logs')}/<process>.log    Stop: Ctrl-C`,
    '',
  ];
  process.stdout.write(out.join('\n') + '\n');
}
