import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { connect, PermissionViolationError } from '@nats-io/transport-node';
import { natsInboxPrefix, natsUserConfigs, natsUserNames } from '@concord/contracts';
import {
  findNatsServer,
  freePort,
  type NatsHandle,
  type PostgresHandle,
  type ProcessHandle,
  startNats,
  startPostgres,
  startProcess,
} from '@concord/infra';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsPasswordVariable, natsRouteVariable } from '../../scripts/docker/nats-config.js';
import { generateService, topologyServices } from '../../scripts/new-service/generate.js';
import { copyRepoForGenerator, REPO_ROOT } from './repo-copy.js';

const run = promisify(execFile);
const repo = copyRepoForGenerator();
const passwordOf = (user: string) => `pw${user}_0123456789abcdef`;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await generateService(repo.root, 'billing', 1767400000000);
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  repo.remove();
});

/** The topology the generated tree has: what `npm run stack` reads from libs/contracts once billing is in it. */
const generatedTopology = () =>
  topologyServices(readFileSync(path.join(repo.root, 'libs/contracts/src/topology.ts'), 'utf8'));

async function as(url: string, user: string) {
  const nc = await connect({
    servers: [url],
    user,
    pass: passwordOf(user),
    inboxPrefix: natsInboxPrefix(user),
  });
  cleanups.push(() => nc.close());
  const violations: PermissionViolationError[] = [];
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'error' && status.error instanceof PermissionViolationError)
        violations.push(status.error);
    }
  })();
  return { nc, violations };
}

/** billing receives its commands from the orchestrator only; it may not read or send what is not its own. */
async function checkBillingPermissions(url: string): Promise<void> {
  const billing = await as(url, 'billing');
  const sub = billing.nc.subscribe('billing.charge', { queue: 'billing' });
  void (async () => {
    for await (const message of sub) message.respond('charged');
  })();
  await billing.nc.flush();
  const orchestrator = await as(url, 'orchestrator');
  expect((await orchestrator.nc.request('billing.charge', '{}', { timeout: 2_000 })).string()).toBe(
    'charged',
  );
  const orders = await as(url, 'orders');
  await expect(orders.nc.request('billing.charge', '{}', { timeout: 1_000 })).rejects.toThrow();
  for (const subject of ['orders.settle', 'payments.>', `${natsInboxPrefix('orchestrator')}.>`]) {
    const denied = billing.nc.subscribe(subject);
    await expect(denied.closed, subject).resolves.toBeInstanceOf(PermissionViolationError);
  }
  billing.nc.publish('orchestrator.start', '{}');
  await billing.nc.flush();
  await expect
    .poll(() => billing.violations.map((v) => `${v.operation} ${v.subject}`), { timeout: 5_000 })
    .toContain('publish orchestrator.start');
}

describe('a generated service', () => {
  it('type-checks (strict, NodeNext) against the libraries', async () => {
    writeFileSync(
      path.join(repo.root, 'tsconfig.generated.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: { incremental: false, noEmit: true },
        include: ['apps/billing/**/*.ts', 'libs/contracts/src/topology.ts'],
      }),
    );
    const tsc = path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', 'tsconfig.generated.json'], {
      cwd: repo.root,
    }).then(
      () => ({ code: 0, output: '' }),
      (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, output: error.stdout ?? '' }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
    // It type-checks on the participant service skeleton, not on a copy of it.
    const source = (file: string) => readFileSync(path.join(repo.root, 'apps/billing/src', file), 'utf8');
    expect(source('billing.module.ts')).toContain('participantService({ handlers: BillingCommands');
    expect(source('billing.commands.ts')).toContain("from '@concord/saga'");
    expect(source('billing.repository.ts')).toContain('extends ParticipantRepository');
    expect(existsSync(path.join(repo.root, 'apps/billing/src/billing.nats.controller.ts'))).toBe(false);
  });

  it('has its NATS user and permissions in the stack (harness nats-server, users from the topology)', async () => {
    const topology = generatedTopology();
    expect(natsUserNames(topology)).toContain('billing');
    const passwords = Object.fromEntries(natsUserNames(topology).map((u) => [u, passwordOf(u)]));
    const nats: NatsHandle = await startNats({ users: natsUserConfigs(passwords, topology) });
    cleanups.push(() => nats.stop());
    await checkBillingPermissions(nats.url);
  });

  it('has its NATS user in compose (the generated docker/nats/nats-server.conf, run with nats-server)', async () => {
    const node = { client: await freePort(), route: await freePort() };
    const env: Record<string, string> = {
      NATS_CLUSTER_LISTEN: `127.0.0.1:${node.route}`,
      NATS_ROUTE_PASSWORD: 'routeSecret_0123456789',
    };
    // A one-node cluster: every route leads to itself, which nats-server recognizes and drops.
    for (let i = 1; i <= 3; i++)
      env[natsRouteVariable(i)] = `nats://route:routeSecret_0123456789@127.0.0.1:${node.route}`;
    for (const user of natsUserNames(generatedTopology())) env[natsPasswordVariable(user)] = passwordOf(user);
    const server: ProcessHandle = await startProcess({
      name: 'nats-billing',
      command: findNatsServer(),
      args: [
        '-c',
        path.join(repo.root, 'docker/nats/nats-server.conf'),
        '-a',
        '127.0.0.1',
        '-p',
        String(node.client),
      ],
      env,
      ready: { logLine: /Server is ready/, timeoutMs: 20_000 },
    });
    cleanups.push(() => server.stop());
    await checkBillingPermissions(`nats://127.0.0.1:${node.client}`);
  });

  it('has its PostgreSQL role in compose (the generated init script, run against a real PostgreSQL)', async () => {
    const postgres: PostgresHandle = await startPostgres({ databases: ['concord'] });
    cleanups.push(() => postgres.stop());
    const services = generatedTopology()
      .filter((s) => s.database)
      .map((s) => s.app);
    expect(services).toContain('billing');
    const beside = path.join(postgres.binaries.binDir, 'psql');
    await run(
      existsSync(beside) ? beside : 'psql',
      [
        '-v',
        'ON_ERROR_STOP=1',
        '--no-psqlrc',
        '-h',
        '127.0.0.1',
        '-p',
        String(postgres.port),
        '-U',
        postgres.user,
      ].concat([
        '-d',
        'concord',
        '-f',
        path.join(repo.root, 'docker/postgres-init/10-service-databases.sql'),
      ]),
      {
        env: {
          PATH: process.env['PATH'] ?? '',
          PGPASSWORD: postgres.password,
          ...Object.fromEntries(services.map((s) => [`POSTGRES_PASSWORD_${s.toUpperCase()}`, passwordOf(s)])),
        },
      },
    );
    const billing = new pg.Client({
      connectionString: postgres.roleUrl('billing', passwordOf('billing'), 'billing'),
    });
    await billing.connect();
    try {
      await billing.query('CREATE TABLE charges (id bigint PRIMARY KEY)');
      const [role] = (
        await billing.query<{ rolsuper: boolean }>(
          'SELECT rolsuper FROM pg_roles WHERE rolname = current_user',
        )
      ).rows;
      expect(role).toEqual({ rolsuper: false });
    } finally {
      await billing.end();
    }
    const intruder = new pg.Client({
      connectionString: postgres.roleUrl('billing', passwordOf('billing'), 'payments'),
    });
    await expect(intruder.connect()).rejects.toThrow(/permission denied for database/);
  });
});
