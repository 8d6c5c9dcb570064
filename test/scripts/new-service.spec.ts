import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import {
  addToConfigReference,
  addToEnvExample,
  addToInitSql,
  addToTopology,
  GeneratorError,
  generateService,
  nameProblem,
  nextPortBlock,
  render,
  topologyPorts,
  topologyServices,
} from '../../scripts/new-service/generate.js';
import { DOMAIN_SERVICES } from '@concord/contracts';
import { copyRepoForGenerator, REPO_ROOT } from './repo-copy.js';

const read = (root: string, file: string): string => readFileSync(path.join(root, file), 'utf8');

describe('new:service name validation', () => {
  it('accepts lowercase letters that name no existing app', () => {
    expect(nameProblem('billing', ['orders', 'payments'])).toBeUndefined();
  });

  it.each([
    [undefined, 'required'],
    ['', 'required'],
    ['Billing', 'lowercase letters only'],
    ['bill-ing', 'lowercase letters only'],
    ['billing2', 'lowercase letters only'],
    ['payments', 'already exists'],
    ['a'.repeat(31), 'longer than'],
  ])('refuses %s with a reason', (name, reason) => {
    expect(nameProblem(name, ['orders', 'payments'])).toContain(reason);
  });
});

describe('new:service edits (pure)', () => {
  const topology = read(REPO_ROOT, 'libs/contracts/src/topology.ts');

  it('takes the next free block of a hundred ports', () => {
    expect(nextPortBlock([8101, 8102, 8401, 8402])).toEqual([8501, 8502]);
    expect(nextPortBlock([8101, 8102, 8401, 8402, 8501, 8502])).toEqual([8601, 8602]);
    expect(nextPortBlock(topologyPorts(topology)).every((p) => !topologyPorts(topology).includes(p))).toBe(
      true,
    );
  });

  it('appends the service to DOMAIN_SERVICES and nothing else', () => {
    const edited = addToTopology(topology, 'billing', [8501, 8502]);
    expect(edited).toContain("{ app: 'billing', ports: [8501, 8502], database: true },\n];");
    expect(edited.replace("\n  { app: 'billing', ports: [8501, 8502], database: true },", '')).toBe(topology);
  });

  it('creates the role and database before the orchestrator, which stays last', () => {
    const sql = addToInitSql(
      '-- orders\nCREATE DATABASE orders OWNER orders;\n\n-- orchestrator\nX;\n',
      'billing',
    );
    expect(sql).toBe(
      [
        '-- orders',
        'CREATE DATABASE orders OWNER orders;',
        '',
        '-- billing',
        "\\set password ''",
        '\\getenv password POSTGRES_PASSWORD_BILLING',
        "SELECT pg_temp.service_role('billing', 'POSTGRES_PASSWORD_BILLING', :'password');",
        'CREATE DATABASE billing OWNER billing;',
        'REVOKE ALL ON DATABASE billing FROM PUBLIC;',
        '',
        '-- orchestrator',
        'X;',
        '',
      ].join('\n'),
    );
  });

  it('adds the three secrets to docker/.env.example beside their kind', () => {
    const env = addToEnvExample(
      'POSTGRES_PASSWORD_ORDERS=\n\nNATS_PASSWORD_ORDERS=\nNATS_ROUTE_PASSWORD=\nCOORDINATOR_TOKEN_ORDERS=\n',
      'billing',
    );
    expect(env).toBe(
      'POSTGRES_PASSWORD_ORDERS=\nPOSTGRES_PASSWORD_BILLING=\n\nNATS_PASSWORD_ORDERS=\nNATS_PASSWORD_BILLING=\n' +
        'NATS_ROUTE_PASSWORD=\nCOORDINATOR_TOKEN_ORDERS=\nCOORDINATOR_TOKEN_BILLING=\n',
    );
  });

  it('reads the services of the topology', () => {
    expect(topologyServices(topology).map((s) => s.app)).toEqual(DOMAIN_SERVICES.map((s) => s.app));
    expect(topologyServices(addToTopology(topology, 'billing', [8501, 8502])).at(-1)).toEqual({
      app: 'billing',
      ports: [8501, 8502],
      database: true,
    });
  });

  it('adds the config schema to the reference only where its anchors are', () => {
    expect(addToConfigReference('no anchors here', 'billing')).toBe('no anchors here');
  });

  it('fills every placeholder', () => {
    expect(
      render('__name__ __Name__ __NAME__ __port1__ __port2__ __timestamp__', 'billing', [8501, 8502], 7),
    ).toBe('billing Billing BILLING 8501 8502 7');
  });
});

describe('npm run new:service -- billing, into a copy of the repository', () => {
  const repo = copyRepoForGenerator();
  let generated: Awaited<ReturnType<typeof generateService>>;

  beforeAll(async () => {
    generated = await generateService(repo.root, 'billing', 1767400000000);
  });
  afterAll(() => repo.remove());

  it('writes the app: main, config, module, participant handler, migration, a spec', () => {
    for (const file of [
      'main.ts',
      'config.ts',
      'billing.module.ts',
      'billing.commands.ts',
      'billing.http.controller.ts',
      'billing.repository.ts',
      'charge.ts',
      'charge.spec.ts',
      'migrations/1767400000000-billing-schema.ts',
    ]) {
      expect(existsSync(path.join(repo.root, 'apps/billing/src', file)), file).toBe(true);
    }
    const module = read(repo.root, 'apps/billing/src/billing.module.ts');
    expect(module).toContain("serviceCoordination('billing', config)");
    // The participant service skeleton registers its NATS handlers: no controller of its own.
    expect(module).toContain('participantService({ handlers: BillingCommands');
    expect(existsSync(path.join(repo.root, 'apps/billing/src/billing.nats.controller.ts'))).toBe(false);
    expect(read(repo.root, 'apps/billing/src/main.ts')).toContain('await runApp(');
    const commands = read(repo.root, 'apps/billing/src/billing.commands.ts');
    expect(commands).toContain('implements ParticipantHandlers');
    expect(commands).toContain('handle.action(');
    expect(commands).toMatch(/handle\.compensation\(\s*BILLING_SUBJECTS\.charge/);
    expect(generated.ports).toEqual([8501, 8502]);
    expect(JSON.stringify(generated.files)).not.toContain('__');
  });

  it('adds it to the topology that npm run stack starts', () => {
    expect(read(repo.root, 'libs/contracts/src/topology.ts')).toContain(
      "{ app: 'billing', ports: [8501, 8502], database: true }",
    );
  });

  it('adds two instances to compose, mirroring payments, that the gateway waits for', () => {
    const document = parseDocument(read(repo.root, 'docker/compose.yaml'), { merge: true });
    expect(document.errors).toEqual([]);
    const compose = document.toJS({ maxAliasCount: -1 }) as {
      services: Record<
        string,
        { environment?: Record<string, string>; depends_on?: Record<string, unknown> }
      >;
    };
    for (const [i, port] of [8501, 8502].entries()) {
      const service = compose.services[`billing-${i + 1}`];
      expect(service?.environment).toMatchObject({
        APP: 'billing',
        PORT: String(port),
        INSTANCE_ID: `billing-${i + 1}`,
        PUBLIC_URL: `http://billing-${i + 1}:${port}`,
      });
      // Its own PostgreSQL role, NATS user and coordinator token, each from docker/.env.
      expect(service?.environment?.['DATABASE_URL']).toMatch(
        /^postgres:\/\/billing:\$\{POSTGRES_PASSWORD_BILLING:\?[^}]+\}@postgres:5432\/billing$/,
      );
      expect(service?.environment).toMatchObject({
        NATS_USER: 'billing',
        NATS_PASSWORD: expect.stringMatching(/^\$\{NATS_PASSWORD_BILLING:\?/),
        COORDINATOR_TOKEN: expect.stringMatching(/^\$\{COORDINATOR_TOKEN_BILLING:\?/),
      });
      expect(Object.keys(service?.depends_on ?? {})).toContain('postgres');
      expect(Object.keys(compose.services['gateway']?.depends_on ?? {})).toContain(`billing-${i + 1}`);
    }
    const payments = compose.services['payments-1'];
    expect(Object.keys(compose.services['billing-1'] ?? {}).sort()).toEqual(
      Object.keys(payments ?? {}).sort(),
    );
    expect(Object.keys(compose.services['billing-1']?.environment ?? {}).sort()).toEqual(
      Object.keys(payments?.environment ?? {}).sort(),
    );
    for (const node of ['nats-1', 'nats-2', 'nats-3'])
      expect(compose.services[node]?.environment?.['NATS_PASSWORD_BILLING'], node).toMatch(
        /^\$\{NATS_PASSWORD_BILLING:\?/,
      );
    expect(compose.services['postgres']?.environment?.['POSTGRES_PASSWORD_BILLING']).toMatch(
      /^\$\{POSTGRES_PASSWORD_BILLING:\?/,
    );
    expect(compose.services['coordinator-1']?.environment?.['SERVICE_TOKENS']).toMatch(
      /,billing=\$\{COORDINATOR_TOKEN_BILLING:\?[^}]+\}$/,
    );
    const env = read(repo.root, 'docker/.env.example');
    for (const variable of [
      'POSTGRES_PASSWORD_BILLING',
      'NATS_PASSWORD_BILLING',
      'COORDINATOR_TOKEN_BILLING',
    ])
      expect(env).toMatch(new RegExp(`^${variable}=$`, 'm'));
    expect(read(repo.root, 'docker/nats/nats-server.conf')).toContain(
      '{ user: "billing", password: $NATS_PASSWORD_BILLING, permissions: {',
    );
  });

  it('creates its database, declares the nest project and its config reference', () => {
    expect(read(repo.root, 'docker/postgres-init/10-service-databases.sql')).toMatch(
      /^CREATE DATABASE billing OWNER billing;\nREVOKE ALL ON DATABASE billing FROM PUBLIC;\n\n-- orchestrator$/m,
    );
    const nest = JSON.parse(read(repo.root, 'nest-cli.json')) as { projects: Record<string, unknown> };
    expect(nest.projects['billing']).toEqual({
      type: 'application',
      root: 'apps/billing',
      entryFile: 'main',
      sourceRoot: 'apps/billing/src',
    });
    expect(read(repo.root, 'scripts/docs/config-reference.ts')).toContain("['billing', billingConfigSchema]");
  });

  it('refuses a second billing, and a bad name, without writing', async () => {
    const topologyBefore = read(repo.root, 'libs/contracts/src/topology.ts');
    await expect(generateService(repo.root, 'billing', 1)).rejects.toThrow(GeneratorError);
    await expect(generateService(repo.root, 'Shipping', 1)).rejects.toThrow(/lowercase letters only/);
    expect(read(repo.root, 'libs/contracts/src/topology.ts')).toBe(topologyBefore);
    expect(existsSync(path.join(repo.root, 'apps/Shipping'))).toBe(false);
  });
});
