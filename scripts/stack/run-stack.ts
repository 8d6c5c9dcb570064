import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DOMAIN_SERVICES, natsUserConfigs, natsUserNames } from '@concord/contracts';
import { type ProcessHandle, startEtcd, startNats, startPostgres, startProcess } from '@concord/infra';
import { ConfigError, ensureInternalTokenKeyPair } from '@concord/platform';
import { cpuProfileArgs, loadStackConfig, servicePorts, type StackConfig } from './config.js';
import { watchStatus } from './status.js';
import { terminalLine } from './terminal.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const COLORS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];
/** How often the status line is refreshed (it is printed only when it changes). */
const STATUS_INTERVAL_MS = 5_000;

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
  const color = process.stdout.isTTY ? (text: string, code: number) => `\x1b[${code}m${text}\x1b[0m` : String;
  const say = (line: string) => process.stdout.write(`${line}\n`);

  // The terminal shows warnings, errors and anything that is not a JSON log line; the log file keeps it all.
  const terminal = (name: string) => {
    const code = COLORS[colorIndex++ % COLORS.length] ?? 37;
    return (line: string) => {
      const shown = terminalLine(name, line);
      if (shown !== undefined) say(color(shown.slice(0, name.length), code) + shown.slice(name.length));
    };
  };

  let stopping = false;
  let stopStatus = () => {};
  const exited = new Set<string>();
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    stopStatus();
    process.stdout.write('\nstack: stopping every process...\n');
    // The apps first, all at once, then the coordinators, then the databases: an app's graceful shutdown still
    // talks to the coordinators (releasing its registration, leases and job locks). Stopped together, the apps
    // waited for coordinators that were gone until SIGKILL ended them (and `--cpu-prof` lost their profiles).
    const coordinators = processes.filter((p) => p.name.startsWith('coordinator-'));
    const apps = processes.filter((p) => !coordinators.includes(p));
    await Promise.allSettled(apps.map((p) => p.stop(10_000)));
    await Promise.allSettled(coordinators.map((p) => p.stop(10_000)));
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    process.stdout.write('stack: stopped; nothing left running.\n');
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  try {
    // --- Infrastructure --------------------------------------------------------------------------------
    say('stack: starting PostgreSQL and NATS...');
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
    // it (libs/contracts/src/nats-permissions.ts); anonymous connections are refused. A service made by
    // `npm run new:service` is in the topology, so it gets its user here too.
    const natsPasswords: Record<string, string> = {};
    for (const user of natsUserNames()) natsPasswords[user] = await secret(dataDir, `nats-${user}.password`);
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

    // Coordinator tokens, one per role (apps/coordinator/src/api/access.ts): each app gets only the one it needs.
    const clientToken = await secret(dataDir, 'coordinator-token');
    const coordinatorAdminToken = await secret(dataDir, 'coordinator-admin-token');
    const coordinatorReadToken = await secret(dataDir, 'coordinator-read-token');
    const serviceTokens = new Map<string, string>();
    for (const service of DOMAIN_SERVICES)
      serviceTokens.set(service.app, await secret(dataDir, `coordinator-token-${service.app}`));
    const clusterSecret = await secret(dataDir, 'cluster-secret');
    const jwtSecret = await secret(dataDir, 'gateway-jwt-secret');
    // The gateway signs internal tokens with the private half; every service verifies with the public half.
    const internalKeys = ensureInternalTokenKeyPair(dataDir);
    const adminToken = await secret(dataDir, 'gateway-admin-token');
    // The console's credential on the orchestrator (its OPERATOR_TOKEN): read the sagas, nothing on the services.
    const orchestratorOperatorToken = await secret(dataDir, 'orchestrator-operator-token');

    const watched: { name: string; url: string }[] = [];
    const start = async (name: string, app: string, port: number, env: Record<string, string>) => {
      const proc = await startProcess({
        name,
        command: process.execPath,
        args: [
          '--enable-source-maps',
          ...cpuProfileArgs(config.STACK_CPU_PROF, name),
          path.join(ROOT, 'dist/apps', app, 'src/main.js'),
        ],
        cwd: ROOT,
        env: {
          HOST: config.HOST,
          ...env,
          PORT: String(port),
          INSTANCE_ID: name,
          LOG_LEVEL: config.LOG_LEVEL,
        },
        logFile: path.join(dataDir, 'logs', `${name}.log`),
        onLine: terminal(name),
        ready: { url: `http://127.0.0.1:${port}/health/ready`, timeoutMs: config.STACK_READY_TIMEOUT_MS },
      });
      processes.push(proc);
      watched.push({ name, url: `http://127.0.0.1:${port}` });
      void proc.waitForExit().then((exit) => {
        if (stopping) return;
        exited.add(name);
        const how = exit.signal === null ? `code ${String(exit.code)}` : `signal ${exit.signal}`;
        say(`${name.padEnd(16)}| exited (${how}); its log: ${path.relative(ROOT, proc.logFile)}`);
      });
      rows.push({ name, url: `http://127.0.0.1:${port}`, pid: proc.pid ?? '-', note: 'ready' });
      return proc;
    };

    // --- Coordination: Concord's coordinators, or etcd on the same ports -------------------------------
    let coordination: Record<string, string>;
    const coordinatorUrls = config.COORDINATOR_PORTS.map((p) => `http://127.0.0.1:${p}`).join(',');
    if (config.STACK_COORDINATION === 'etcd') {
      let endpoints = config.ETCD_ENDPOINTS;
      if (endpoints === undefined) {
        const etcd = await startEtcd({
          members: 3,
          clientPorts: config.COORDINATOR_PORTS,
          peerPorts: config.COORDINATOR_PEER_PORTS,
          dataDir: path.join(dataDir, 'etcd'),
        });
        stoppers.push(() => etcd.stop());
        endpoints = etcd.endpoints.join(',');
        for (const m of etcd.members) {
          rows.push({
            name: `etcd-${m.name}`,
            url: m.endpoint,
            pid: m.process.pid,
            note: `data in ${path.relative(ROOT, m.dataDir)}`,
          });
        }
      } else {
        rows.push({ name: 'etcd', url: endpoints, pid: '-', note: 'external (ETCD_ENDPOINTS)' });
      }
      coordination = { COORDINATION_BACKEND: 'etcd', ETCD_ENDPOINTS: endpoints };
    } else {
      say('stack: starting 3 coordinators (Raft)...');
      const ids = ['n1', 'n2', 'n3'];
      const peers = ids.map((id, i) => `${id}=127.0.0.1:${config.COORDINATOR_PEER_PORTS[i]}`).join(',');
      const apiUrls = ids.map((id, i) => `${id}=http://127.0.0.1:${config.COORDINATOR_PORTS[i]}`).join(',');
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
            ADMIN_TOKEN: coordinatorAdminToken,
            READ_TOKEN: coordinatorReadToken,
            SERVICE_TOKENS: [...serviceTokens].map(([service, token]) => `${service}=${token}`).join(','),
            // API and Raft peer listeners on loopback unless configured otherwise.
            HOST: config.COORDINATOR_HOST,
            // The demo's fault switch (development stack only): loopback-only and admin-token-guarded.
            FAULT_INJECTION: String(config.STACK_FAULT_INJECTION),
          }),
        ),
      );
      coordination = { COORDINATION_BACKEND: 'concord', COORDINATOR_URLS: coordinatorUrls };
    }

    // --- Domain services and orchestrators -------------------------------------------------------------
    say('stack: starting the services and the orchestrators...');
    const common = {
      NATS_URL: natsUrl,
      ...coordination,
    };
    await Promise.all(
      DOMAIN_SERVICES.flatMap((service) =>
        servicePorts(config, service.app).map((port, i) =>
          start(`${service.app}-${i + 1}`, service.app, port, {
            ...common,
            COORDINATOR_TOKEN: serviceTokens.get(service.app) ?? '',
            DATABASE_URL:
              serviceDatabaseUrls.get(service.app) ?? withDatabase(databaseUrl ?? '', service.app),
            PUBLIC_URL: `http://127.0.0.1:${port}`,
            INTERNAL_TOKEN_PUBLIC_KEY: internalKeys.publicKeyPem,
            ...(service.app === 'orchestrator' ? { OPERATOR_TOKEN: orchestratorOperatorToken } : {}),
            ...(config.NATS_URL === undefined
              ? { NATS_USER: service.app, NATS_PASSWORD: natsPasswords[service.app] ?? '' }
              : {}),
          }),
        ),
      ),
    );

    // --- Console (the gateway routes /console to it) -----------------------------------------------------
    const gatewayUrl = `http://127.0.0.1:${config.GATEWAY_PORT}`;
    const consoleUrl = `http://127.0.0.1:${config.CONSOLE_PORT}`;
    await start('console', 'console', config.CONSOLE_PORT, {
      HOST: '127.0.0.1',
      CONSOLE_ADMIN_TOKEN: adminToken,
      COORDINATOR_URLS: coordinatorUrls,
      COORDINATOR_TOKEN: coordinatorReadToken,
      GATEWAY_URL: gatewayUrl,
      GATEWAY_ADMIN_TOKEN: adminToken,
      ORCHESTRATOR_URLS: servicePorts(config, 'orchestrator')
        .map((p) => `http://127.0.0.1:${p}`)
        .join(','),
      // Lists the sagas with the orchestrator's operator token (that app only; services never see it).
      ORCHESTRATOR_TOKEN: orchestratorOperatorToken,
    });

    // --- Gateway ---------------------------------------------------------------------------------------
    say('stack: starting the gateway...');
    await start('gateway', 'gateway', config.GATEWAY_PORT, {
      ...common,
      COORDINATOR_TOKEN: coordinatorReadToken,
      JWT_SECRET: jwtSecret,
      INTERNAL_TOKEN_PRIVATE_KEY: internalKeys.privateKeyPem,
      ADMIN_TOKEN: adminToken,
      CONSOLE_URL: consoleUrl,
    });

    printTable(rows, dataDir, `${gatewayUrl}/console`);
    stopStatus = watchStatus({
      coordinatorUrls: config.COORDINATOR_PORTS.map((p) => `http://127.0.0.1:${p}`),
      coordinatorToken: clientToken,
      gatewayUrl: `http://127.0.0.1:${config.GATEWAY_PORT}`,
      orchestratorUrls: servicePorts(config, 'orchestrator').map((p) => `http://127.0.0.1:${p}`),
      processes: watched,
      intervalMs: STATUS_INTERVAL_MS,
      write: say,
      exited,
    });
  } catch (error) {
    process.stderr.write(`stack: ${(error as Error).message}\n`);
    await stopAll(1);
  }
}

function printTable(rows: Row[], dataDir: string, consoleUrl: string): void {
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
    `Console: ${consoleUrl}  (sign in with the gateway admin token below)`,
    `Coordinator client token: ${path.join(dataDir, 'coordinator-token')} (admin: coordinator-admin-token)`,
    `Gateway JWT secret (HS256): ${path.join(dataDir, 'gateway-jwt-secret')} (npm run token -- alice [--admin])`,
    `Internal token keys (Ed25519): ${path.join(dataDir, 'internal-token-ed25519.pem')} (+ .pub.pem)`,
    `Gateway admin token: ${path.join(dataDir, 'gateway-admin-token')}`,
    `Service credential for direct calls: npm run token -- --internal --aud <service> [--sub <id>] [--admin]`,
    `NATS and PostgreSQL passwords (one per service): ${path.join(dataDir, 'nats-<service>.password')}, postgres-<service>.password`,
    `Full logs: ${path.join(dataDir, 'logs')}/<process>.log, pretty: npm run logs -- <process|all> [--follow]`,
    'From here on: warnings, errors, process exits and a status line when it changes.    Stop: Ctrl-C',
    '',
  ];
  process.stdout.write(out.join('\n') + '\n');
}
