import { generateInternalTokenKeyPair } from '@concord/platform';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import type { ZodType } from 'zod';
import { DEFAULT_PORTS, DOMAIN_SERVICES, natsUserNames } from '@concord/contracts';
import {
  COMPOSE_NATS_CONFIG_FILE,
  composeNatsConfig,
  natsPasswordVariable,
  natsRouteVariable,
} from '../scripts/docker/nats-config.js';

/*
 * No Docker engine runs where the tests run, so docker/ is checked statically: the compose file against
 * the Compose Specification's JSON schema (vendored in docker/, see docker/README.md) and against the
 * topology of `npm run stack`, and the Dockerfile for the properties the image promises.
 */

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string): string => readFileSync(`${root}${path}`, 'utf8');

const IMAGE_DOCKERFILE = 'docker/Dockerfile';
const INIT_SQL = 'docker/postgres-init/10-service-databases.sql';
/** The variable holding the PostgreSQL password of a service's own role. */
const postgresPasswordVariable = (app: string) => `POSTGRES_PASSWORD_${app.toUpperCase()}`;
/** Apps that own a database (named after the app), per the topology contract `npm run stack` also reads. */
const DATABASE_APPS = DOMAIN_SERVICES.filter((s) => s.database).map((s) => s.app);

// ---------------------------------------------------------------------------------------------------------
// The subset of a compose file these checks read. Only trusted after the JSON schema accepted the document.

interface ComposeHealthcheck {
  test?: string | string[];
  disable?: boolean;
}
interface ComposePort {
  target: number | string;
  published?: number | string;
}
interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string; args?: Record<string, string> | string[] };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | number | ComposePort)[];
  volumes?: (string | { source?: string; target: string })[];
  depends_on?: string[] | Record<string, { condition: string }>;
  healthcheck?: ComposeHealthcheck;
  user?: string;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------------------
// Compose's variable interpolation, enough of it to see the file as `docker compose config` would.

type Env = Readonly<Record<string, string>>;

/** Substitutes `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`. */
function interpolate(text: string, env: Env, missing: Set<string>): string {
  return text.replace(
    /\$(?:(\$)|([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\})/g,
    (_match, dollar?: string, bare?: string, name?: string, colon?: string, op?: string, arg?: string) => {
      if (dollar !== undefined) return '$';
      const variable = bare ?? name ?? '';
      const value = env[variable];
      const unset = value === undefined || (colon === ':' && value === '');
      if (op === '-') return unset ? (arg ?? '') : (value ?? '');
      if (op === '?' && unset) missing.add(variable);
      return value ?? '';
    },
  );
}

function interpolateDeep(node: unknown, env: Env, missing: Set<string>): unknown {
  if (typeof node === 'string') return interpolate(node, env, missing);
  if (Array.isArray(node)) return node.map((item) => interpolateDeep(item, env, missing));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateDeep(v, env, missing)]));
  }
  return node;
}

/** Variables the file requires (`${VAR:?...}` or `${VAR?...}`). */
function requiredVariables(text: string): Set<string> {
  return new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):?\?/g)].map((m) => m[1] ?? ''));
}

/** KEY=VALUE lines of an env file; comments and blank lines skipped. */
function parseEnvFile(text: string): Record<string, string> {
  const entries: [string, string][] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (match?.[1] !== undefined) entries.push([match[1], match[2] ?? '']);
  }
  return Object.fromEntries(entries);
}

// ---------------------------------------------------------------------------------------------------------
// Loading.

function loadYaml(text: string): unknown {
  // Merge keys (`<<: *anchor`) are YAML 1.1, which compose accepts; duplicate keys are errors in both.
  const doc = parseDocument(text, { merge: true, uniqueKeys: true });
  expect(doc.errors.map((e) => e.message)).toEqual([]);
  expect(doc.warnings.map((e) => e.message)).toEqual([]);
  return doc.toJS({ maxAliasCount: 1000 }) as unknown;
}

function composeValidator() {
  const schema = JSON.parse(read('docker/compose-spec.schema.json')) as Record<string, unknown>;
  // The spec names its meta-schema by an https address that Ajv does not register; Ajv's default class
  // is draft-07 already, so the declaration is checked here and dropped before compiling.
  const { $schema: declared, ...rest } = schema;
  expect(declared).toMatch(/draft-07/);
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(rest);
}

const composeText = read('docker/compose.yaml');
const envExample = parseEnvFile(read('docker/.env.example'));
const required = requiredVariables(composeText);
/** A value for every required variable, as a user's docker/.env would give. */
const internalKeys = generateInternalTokenKeyPair();
const filledEnv: Env = {
  ...Object.fromEntries([...required].map((v) => [v, `test-${v.toLowerCase()}-0123456789`])),
  // Keys as docker/.env carries them: one line, with literal \n.
  INTERNAL_TOKEN_PUBLIC_KEY: internalKeys.publicKeyPem.trim().replaceAll('\n', '\\n'),
  INTERNAL_TOKEN_PRIVATE_KEY: internalKeys.privateKeyPem.trim().replaceAll('\n', '\\n'),
};

function loadCompose(env: Env): ComposeFile {
  const missing = new Set<string>();
  const compose = interpolateDeep(loadYaml(composeText), env, missing) as ComposeFile;
  expect([...missing]).toEqual([]);
  return compose;
}

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((pair) => {
        const at = pair.indexOf('=');
        return at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function dependenciesOf(service: ComposeService): Record<string, { condition: string }> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, { condition: 'service_started' }]));
  return deps;
}

function builtFromImage(service: ComposeService): boolean {
  return typeof service.build === 'object' && service.build.dockerfile === IMAGE_DOCKERFILE;
}

function commandWords(command: string | string[] | undefined): string[] {
  if (command === undefined) return [];
  return Array.isArray(command) ? command : command.split(/\s+/);
}

/** Each container of the topology and its environment, derived from the shared port contract. */
function expectedTopology(): Record<string, Record<string, string>> {
  const expected: Record<string, Record<string, string>> = {
    gateway: { APP: 'gateway', PORT: String(DEFAULT_PORTS.gateway) },
    console: { APP: 'console', PORT: String(DEFAULT_PORTS.console) },
  };
  DEFAULT_PORTS.coordinatorApi.forEach((port, i) => {
    expected[`coordinator-${i + 1}`] = {
      APP: 'coordinator',
      NODE_ID: `n${i + 1}`,
      PORT: String(port),
      PEER_PORT: String(DEFAULT_PORTS.coordinatorPeer[i]),
    };
  });
  for (const { app, ports } of DOMAIN_SERVICES) {
    ports.forEach((port, i) => {
      expected[`${app}-${i + 1}`] = { APP: app, PORT: String(port) };
    });
  }
  return expected;
}

// ---------------------------------------------------------------------------------------------------------

describe('docker/compose.yaml', () => {
  const validate = composeValidator();

  it('is valid under the Compose Specification, before and after interpolation', () => {
    const raw = loadYaml(composeText);
    expect(validate(raw), JSON.stringify(validate.errors, null, 2)).toBe(true);
    expect(validate(loadCompose(filledEnv)), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it('the schema rejects a malformed file (the validator is not vacuous)', () => {
    const broken = loadYaml(composeText) as { services: Record<string, Record<string, unknown>> };
    const gateway = broken.services['gateway'];
    expect(gateway).toBeDefined();
    if (gateway) gateway['depends_on'] = { 'coordinator-1': { condition: 'service_ready' } };
    expect(validate(broken)).toBe(false);
  });

  it('takes every secret from docker/.env, none written in the repository', () => {
    expect([...required].sort()).toEqual(
      [
        'ADMIN_TOKEN',
        'CLIENT_TOKEN',
        'CLUSTER_SECRET',
        'COORDINATOR_ADMIN_TOKEN',
        'COORDINATOR_READ_TOKEN',
        ...DOMAIN_SERVICES.map((s) => `COORDINATOR_TOKEN_${s.app.toUpperCase()}`),
        'INTERNAL_TOKEN_PRIVATE_KEY',
        'INTERNAL_TOKEN_PUBLIC_KEY',
        'JWT_SECRET',
        'NATS_ROUTE_PASSWORD',
        ...natsUserNames().map(natsPasswordVariable),
        'ORCHESTRATOR_OPERATOR_TOKEN',
        'POSTGRES_PASSWORD',
        ...DATABASE_APPS.map(postgresPasswordVariable),
      ].sort(),
    );
    // The example names each one, with no value, so that a copied but unfilled file refuses to start.
    for (const variable of required) expect(envExample[variable], variable).toBe('');

    const missing = new Set<string>();
    interpolateDeep(loadYaml(composeText), envExample, missing);
    expect([...missing].sort()).toEqual([...required].sort());

    const raw = loadYaml(composeText) as ComposeFile;
    for (const [name, service] of Object.entries(raw.services)) {
      for (const [key, value] of Object.entries(environmentOf(service))) {
        // A secret is a whole variable, or (SERVICE_TOKENS) a list of name=variable pairs.
        if (/SECRET|TOKEN|PASSWORD|KEY$/.test(key))
          expect(value, `${name} ${key}`).toMatch(
            /^(\$\{[A-Z_]+:\?[^}]*\}|([a-z-]+=\$\{[A-Z_]+:\?[^}]*\},?)+)$/,
          );
        if (key === 'DATABASE_URL')
          expect(value, `${name} ${key}`).toMatch(/^postgres:\/\/\w+:\$\{[A-Z_]+:\?/);
        // NATS route URLs carry the route password, from docker/.env like every other secret.
        if (/^NATS_ROUTE_\d+$/.test(key))
          expect(value, `${name} ${key}`).toMatch(/^nats:\/\/route:\$\{NATS_ROUTE_PASSWORD:\?[^}]*\}@/);
      }
    }
  });

  const compose = loadCompose(filledEnv);
  const services = Object.entries(compose.services);
  const appServices = services.filter(([, s]) => builtFromImage(s));

  it("gives every container an environment its app's config schema accepts (it would boot)", async () => {
    const { appConfigSchemas } = await import('../scripts/docs/config-reference.js');
    const { loadConfig } = await import('@concord/platform');
    const schemas = new Map(appConfigSchemas());
    for (const [name, service] of appServices) {
      const env = environmentOf(service);
      const schema = schemas.get(env['APP'] ?? '');
      expect(schema, `${name}: a config schema for ${env['APP']}`).toBeDefined();
      // The secrets a user puts in docker/.env are long enough for every schema (JWT_SECRET needs 32+).
      const filled = Object.fromEntries(
        Object.entries(env).map(([k, v]) => [
          k,
          v.replace(/^test-/, 'test-secret-long-enough-for-every-schema-'),
        ]),
      );
      expect(() => loadConfig(schema!, filled), name).not.toThrow();
    }
  });

  it('runs an app that exists in apps/ in every container built from the image', () => {
    const nest = JSON.parse(read('nest-cli.json')) as {
      projects: Record<string, { type: string; root: string }>;
    };
    const apps = new Set<string>();
    for (const [name, service] of appServices) {
      const app = environmentOf(service)['APP'] ?? '';
      expect(app, `${name} APP`).toMatch(/^[a-z0-9-]+$/);
      expect(existsSync(`${root}apps/${app}/src/main.ts`), `${name}: apps/${app}/src/main.ts`).toBe(true);
      expect(nest.projects[app], `${name}: nest-cli.json project ${app}`).toMatchObject({
        type: 'application',
        root: `apps/${app}`,
      });
      apps.add(app);
    }
    const declared = Object.entries(nest.projects).filter(([, p]) => p.type === 'application');
    expect([...apps].sort()).toEqual(declared.map(([n]) => n).sort());
  });

  it('has the topology and ports of `npm run stack`', () => {
    const expected = expectedTopology();
    expect(appServices.map(([name]) => name).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, service] of appServices) {
      expect(environmentOf(service), name).toMatchObject(expected[name] ?? {});
    }
    expect(Object.keys(compose.services).sort()).toEqual(
      [...Object.keys(expected), 'nats-1', 'nats-2', 'nats-3', 'postgres'].sort(),
    );
  });

  it('publishes only the gateway, on its stack port', () => {
    for (const [name, service] of services) {
      if (name === 'gateway') continue;
      expect(service.ports ?? [], name).toEqual([]);
    }
    expect(compose.services['gateway']?.ports).toEqual([
      { target: DEFAULT_PORTS.gateway, published: String(DEFAULT_PORTS.gateway), protocol: 'tcp' },
    ]);
  });

  it('wires every instance to the others by service name and port', () => {
    const coordinators = appServices.filter(([, s]) => environmentOf(s)['APP'] === 'coordinator');
    const byNode = coordinators.map(([name, s]) => ({ name, env: environmentOf(s) }));
    const peers = byNode.map(({ name, env }) => `${env['NODE_ID']}=${name}:${env['PEER_PORT']}`).join(',');
    const apiUrls = byNode
      .map(({ name, env }) => `${env['NODE_ID']}=http://${name}:${env['PORT']}`)
      .join(',');
    const coordinatorUrls = byNode.map(({ name, env }) => `http://${name}:${env['PORT']}`).join(',');
    const initSql = read(INIT_SQL);

    for (const [name, service] of appServices) {
      const env = environmentOf(service);
      const app = env['APP'] ?? '';
      if (app === 'coordinator') {
        expect(env, name).toMatchObject({ PEERS: peers, API_URLS: apiUrls, DATA_DIR: '/data' });
        expect(service.volumes, name).toEqual([`${name}-data:/data`]);
        continue;
      }
      expect(env, name).toMatchObject({ COORDINATOR_URLS: coordinatorUrls, INSTANCE_ID: name });
      if (app === 'console') continue; // reads the others over HTTP only: no NATS, no database
      if (app === 'gateway') {
        // The gateway speaks only HTTP: given NATS, it would wait for a server it never uses.
        expect(env['NATS_URL'], name).toBeUndefined();
        expect(
          Object.keys(dependenciesOf(service)).filter((d) => d.startsWith('nats')),
          name,
        ).toEqual([]);
        continue;
      }
      expect(env, name).toMatchObject({
        NATS_URL: 'nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222',
      });
      expect(env, name).toMatchObject({ PUBLIC_URL: `http://${name}:${env['PORT']}` });
      if (!DATABASE_APPS.includes(app)) continue;
      const database = new URL(env['DATABASE_URL'] ?? '');
      expect(database.host, name).toBe('postgres:5432');
      expect(database.pathname, name).toBe(`/${app}`);
      // Its own role, never the superuser: the init script creates it, owner of this database only.
      expect(database.username, name).toBe(app);
      expect(decodeURIComponent(database.password), name).toBe(filledEnv[postgresPasswordVariable(app)]);
      expect(initSql, `database ${app}`).toMatch(new RegExp(`^CREATE DATABASE ${app} OWNER ${app};$`, 'm'));
      expect(initSql, `role ${app}`).toContain(
        `SELECT pg_temp.service_role('${app}', '${postgresPasswordVariable(app)}', :'password');`,
      );
      // Its own NATS user, whose permissions docker/nats/nats-server.conf holds.
      expect(env['NATS_USER'], name).toBe(app);
      expect(env['NATS_PASSWORD'], name).toBe(filledEnv[natsPasswordVariable(app)]);
    }
  });

  it('gives every service a healthcheck and starts each only after its dependencies are healthy', () => {
    for (const [name, service] of services) {
      expect(service.healthcheck?.disable ?? false, name).toBe(false);
      expect(commandWords(service.healthcheck?.test).length, `${name} healthcheck`).toBeGreaterThan(1);
      for (const [dependency, { condition }] of Object.entries(dependenciesOf(service))) {
        expect(compose.services[dependency], `${name} -> ${dependency}`).toBeDefined();
        expect(condition, `${name} -> ${dependency}`).toBe('service_healthy');
      }
    }
    for (const [name, service] of appServices) {
      expect(commandWords(service.healthcheck?.test).join(' '), name).toContain('/health/ready');
    }
    // A cycle would leave compose waiting forever; a depth-first walk finds one.
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (name: string, path: string[]): void => {
      if (state.get(name) === 'done') return;
      expect(state.get(name), `dependency cycle: ${[...path, name].join(' -> ')}`).toBeUndefined();
      state.set(name, 'visiting');
      const service = compose.services[name];
      for (const dep of Object.keys(service ? dependenciesOf(service) : {})) visit(dep, [...path, name]);
      state.set(name, 'done');
    };
    for (const [name] of services) visit(name, []);
  });

  it('gives the domain services and the orchestrator PostgreSQL, NATS and the coordinators to wait for', () => {
    for (const [name, service] of appServices) {
      const app = environmentOf(service)['APP'] ?? '';
      if (!DATABASE_APPS.includes(app)) continue;
      expect(Object.keys(dependenciesOf(service)).sort(), name).toEqual(
        ['coordinator-1', 'coordinator-2', 'coordinator-3', 'nats-1', 'nats-2', 'nats-3', 'postgres'].sort(),
      );
    }
  });

  it('runs PostgreSQL 16+ with prepared transactions, room for every pool, one database per service', async () => {
    const postgres = compose.services['postgres'];
    const major = Number(/^postgres:(\d+)/.exec(postgres?.image ?? '')?.[1]);
    expect(major).toBeGreaterThanOrEqual(16);
    const flag = commandWords(postgres?.command).find((w) => w.startsWith('max_prepared_transactions='));
    expect(Number(flag?.split('=')[1])).toBeGreaterThan(0);
    // Every pool full at once must fit: DATABASE_POOL_SIZE (or DatabaseModule's default of 10) per instance,
    // plus the participant kit's control pool of 3 in inventory and payments, under max_connections.
    const maxConnections = Number(
      commandWords(postgres?.command)
        .find((w) => w.startsWith('max_connections='))
        ?.split('=')[1] ?? 100,
    );
    const { appConfigSchemas } = await import('../scripts/docs/config-reference.js');
    const schemas = new Map(appConfigSchemas());
    let pools = 0;
    for (const [, service] of appServices) {
      const env = environmentOf(service);
      const app = env['APP'] ?? '';
      if (env['DATABASE_URL'] === undefined) continue;
      const poolSetting = schemas.get(app)?.shape['DATABASE_POOL_SIZE'] as ZodType | undefined;
      const pool = Number(env['DATABASE_POOL_SIZE'] ?? poolSetting?.parse(undefined) ?? 10);
      pools += pool + (app === 'inventory' || app === 'payments' ? 3 : 0);
    }
    expect(pools).toBeGreaterThan(100);
    expect(maxConnections, `max_connections for ${pools} pooled connections`).toBeGreaterThanOrEqual(
      pools + 20,
    );
    expect(postgres?.volumes).toContain('./postgres-init:/docker-entrypoint-initdb.d:ro');
    expect(postgres?.volumes).toContain('postgres-data:/var/lib/postgresql/data');
    const initSql = read(INIT_SQL);
    for (const app of DATABASE_APPS)
      expect(initSql).toMatch(new RegExp(`^CREATE DATABASE ${app} OWNER ${app};$`, 'm'));
    // The superuser only creates the roles and databases; its password goes into no app's environment.
    expect(environmentOf(postgres ?? {})).toMatchObject(
      Object.fromEntries(
        DATABASE_APPS.map((app) => [postgresPasswordVariable(app), filledEnv[postgresPasswordVariable(app)]]),
      ),
    );
    for (const [name, service] of appServices)
      expect(Object.values(environmentOf(service)).join(' '), name).not.toContain(
        filledEnv['POSTGRES_PASSWORD'],
      );
  });

  it('runs NATS 2.10 as a 3-node JetStream cluster, each node on its own volume, routed to the others', () => {
    const nodes = ['nats-1', 'nats-2', 'nats-3'];
    const routePassword = filledEnv['NATS_ROUTE_PASSWORD'];
    for (const name of nodes) {
      const nats = compose.services[name];
      expect(nats?.image, name).toMatch(/^nats:2\.10\b/);
      const words = commandWords(nats?.command);
      const flag = (f: string) => words[words.indexOf(f) + 1];
      expect(
        words.some((w) => w === '--jetstream' || w === '-js'),
        name,
      ).toBe(true);
      expect(nats?.volumes, name).toContain(`${name}-data:${flag('--store_dir')}`);
      expect(flag('--server_name'), name).toBe(name);
      // The cluster, its routes and their authorization come from the file: nats-server's --cluster flag would
      // replace the file's cluster block, route authorization included.
      expect(nats?.volumes, name).toContain(`./nats/nats-server.conf:${flag('--config')}:ro`);
      for (const f of ['--cluster', '--routes', '--cluster_name', '--user', '--pass', '--auth'])
        expect(words, `${name} ${f}`).not.toContain(f);
      const env = environmentOf(nats ?? {});
      expect(env['NATS_CLUSTER_LISTEN'], name).toBe('0.0.0.0:6222');
      expect(env['NATS_ROUTE_PASSWORD'], name).toBe(routePassword);
      nodes.forEach((node, i) =>
        expect(env[natsRouteVariable(i + 1)], `${name} route ${i + 1}`).toBe(
          `nats://route:${routePassword}@${node}:6222`,
        ),
      );
      for (const user of natsUserNames())
        expect(env[natsPasswordVariable(user)], `${name} password of ${user}`).toBe(
          filledEnv[natsPasswordVariable(user)],
        );
    }
    // Every NATS client gets every seed; the orchestrator creates the lifecycle stream with 3 replicas.
    for (const [name, service] of appServices) {
      const env = environmentOf(service);
      // Only the apps that speak NATS: not the coordinators, the gateway (HTTP only) or the console (reads HTTP APIs).
      if (['coordinator', 'gateway', 'console'].includes(env['APP'] ?? '')) continue;
      expect(env['NATS_URL'], name).toBe(nodes.map((n) => `nats://${n}:4222`).join(','));
      if (env['APP'] === 'orchestrator') expect(env['OUTBOX_STREAM_REPLICAS'], name).toBe('3');
    }
  });

  it('gives NATS the users and permissions of libs/contracts (docker/nats/nats-server.conf is current)', () => {
    // Regenerate with `npm run compose:nats`; test/docker/nats-config.int.ts runs the file with nats-server.
    expect(read(COMPOSE_NATS_CONFIG_FILE)).toBe(composeNatsConfig());
    const conf = read(COMPOSE_NATS_CONFIG_FILE);
    for (const user of natsUserNames())
      expect(conf, user).toContain(
        `{ user: "${user}", password: $${natsPasswordVariable(user)}, permissions: {`,
      );
    expect(conf).not.toMatch(/password: "/); // no secret written in the repository
  });

  it('declares every named volume it mounts', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, service] of services) {
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? (volume.split(':')[0] ?? '') : (volume.source ?? '');
        if (source.startsWith('.') || source.startsWith('/')) {
          expect(existsSync(`${root}docker/${source}`), `${name}: ${source}`).toBe(true);
        } else {
          expect(declared, `${name}: volume ${source}`).toContain(source);
        }
      }
    }
  });

  it('builds app images from the repository root with docker/Dockerfile', () => {
    for (const [name, service] of appServices) {
      expect(service.build, name).toMatchObject({ context: '..', dockerfile: IMAGE_DOCKERFILE });
      expect(service.image, name).toBe(appServices[0]?.[1].image);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

interface Stage {
  name: string;
  from: string;
  instructions: { keyword: string; args: string }[];
}

/** Splits a Dockerfile into stages of instructions, joining continued lines and dropping comments. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    // Docker drops comment lines even between continued lines.
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      pending += line.replace(/\\\s*$/, ' ');
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    if (whole !== '') logical.push(whole);
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      const match = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ name: match?.[2] ?? String(stages.length), from: match?.[1] ?? '', instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

describe('docker/Dockerfile', () => {
  const stages = parseDockerfile(read('docker/Dockerfile'));
  const stage = (name: string): Stage => {
    const found = stages.find((s) => s.name === name);
    expect(found, `stage ${name}`).toBeDefined();
    return found ?? { name, from: '', instructions: [] };
  };
  const args = (s: Stage, keyword: string): string[] =>
    s.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
  const runtime = stages.at(-1);

  it('builds with dev dependencies and ships production dependencies only', () => {
    expect(stages.map((s) => s.name)).toEqual(['base', 'build', 'prod-deps', 'runtime']);
    expect(args(stage('build'), 'RUN').join('\n')).toMatch(/npm ci\b/);
    expect(args(stage('build'), 'RUN')).toContain('npm run build');
    expect(args(stage('prod-deps'), 'RUN').join('\n')).toMatch(/npm ci\b.*--omit=dev/);
    const runtimeCopies = args(stage('runtime'), 'COPY');
    expect(runtimeCopies).toContain('--from=prod-deps /app/node_modules ./node_modules');
    expect(runtimeCopies).toContain('--from=build /app/dist ./dist');
    expect(args(stage('runtime'), 'RUN').join('\n')).not.toMatch(/\bnpm\b/);
  });

  it('runs as a non-root user, with a readiness healthcheck and the APP entrypoint', () => {
    expect(runtime?.name).toBe('runtime');
    const users = args(stage('runtime'), 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(args(stage('runtime'), 'HEALTHCHECK').join('\n')).toContain('/health/ready');
    expect(args(stage('runtime'), 'ENV').join('\n')).toMatch(/\bAPP=/);
    expect(args(stage('runtime'), 'ENTRYPOINT')).toEqual(['["concord-entrypoint"]']);
    // The entrypoint is copied under that name; it runs dist/apps/$APP/src/main.js in place of itself.
    expect(args(stage('runtime'), 'COPY')).toContain(
      'docker/entrypoint.sh /usr/local/bin/concord-entrypoint',
    );
    const entrypoint = read('docker/entrypoint.sh');
    expect(entrypoint).toMatch(/^entry="\$apps_dir\/\$app\/src\/main\.js"$/m);
    expect(entrypoint).toMatch(/^exec node .*"\$entry"/m);
  });

  it('compiles apps/ and libs/ only: nothing of test/ or scripts/ goes into the image', () => {
    const sources = stages.flatMap((s) =>
      args(s, 'COPY')
        .filter((copy) => !copy.startsWith('--from='))
        .flatMap((copy) =>
          copy
            .split(/\s+/)
            .filter((w) => !w.startsWith('--'))
            .slice(0, -1),
        ),
    );
    expect(sources.filter((source) => /^(test|scripts)(\/|$)/.test(source))).toEqual([]);
    const build = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    expect(build.include).toEqual(['apps/**/*.ts', 'libs/**/*.ts']);
    expect(sources).toContain('tsconfig.build.json');
    const ignored = read('docker/Dockerfile.dockerignore').split('\n');
    for (const pattern of ['test', 'scripts']) expect(ignored).toContain(pattern);
  });

  it('copies only files that exist and keeps secrets and local state out of the build context', () => {
    for (const s of stages) {
      for (const copy of args(s, 'COPY')) {
        if (copy.startsWith('--from=')) continue;
        const sources = copy
          .split(/\s+/)
          .filter((w) => !w.startsWith('--'))
          .slice(0, -1);
        for (const source of sources)
          expect(existsSync(`${root}${source}`), `${s.name}: COPY ${source}`).toBe(true);
      }
    }
    const ignored = read('docker/Dockerfile.dockerignore').split('\n');
    for (const pattern of ['**/node_modules', 'dist', '.data', '.git', '**/.env'])
      expect(ignored).toContain(pattern);
  });
});

describe('docker/compose.override.example.yaml', () => {
  const override = parseDocument(read('docker/compose.override.example.yaml')).toJS() as {
    services: Record<string, { ports?: string[] }>;
  };
  const base = parseDocument(read('docker/compose.yaml')).toJS() as {
    services: Record<string, { environment?: Record<string, string> }>;
  };

  it("publishes each app instance's own port, on loopback only", () => {
    expect(Object.keys(override.services).length).toBeGreaterThan(0);
    for (const [name, service] of Object.entries(override.services)) {
      const port = base.services[name]?.environment?.['PORT'];
      expect(port, `${name} is a service of compose.yaml with a PORT`).toBeDefined();
      expect(service.ports, name).toEqual([`127.0.0.1:${port}:${port}`]);
    }
  });
});

describe('docker/compose.observability.yaml', () => {
  const validate = composeValidator();
  const text = read('docker/compose.observability.yaml');
  const overlay = loadYaml(text) as ComposeFile & {
    services: Record<string, ComposeService & { ports?: { host_ip?: string }[] }>;
  };

  it('is valid under the Compose Specification and only adds to the Concord services', () => {
    expect(validate(overlay), JSON.stringify(validate.errors, null, 2)).toBe(true);
    const base = loadCompose(filledEnv);
    for (const [name, service] of Object.entries(overlay.services)) {
      // A service of the base file is only extended (no image, build or ports of its own here).
      if (base.services[name] !== undefined) {
        expect(service.image, name).toBeUndefined();
        expect(service.ports, name).toBeUndefined();
      } else {
        expect(service.image, name).toMatch(/^[a-z0-9./-]+:v?[0-9][\w.-]*$/); // a pinned version, never latest
      }
    }
    expect(Object.keys(overlay.services)).toEqual(
      expect.arrayContaining(['prometheus', 'grafana', 'jaeger', 'otel-collector']),
    );
  });

  it('publishes its tools on 127.0.0.1 only and takes the Grafana password from docker/.env', () => {
    for (const [name, service] of Object.entries(overlay.services)) {
      for (const port of service.ports ?? []) expect(port.host_ip, name).toBe('127.0.0.1');
    }
    expect(requiredVariables(text)).toEqual(new Set(['GRAFANA_ADMIN_PASSWORD']));
    expect(read('docker/.env.example')).toMatch(/^# GRAFANA_ADMIN_PASSWORD=$/m);
  });

  it('mounts configuration files that exist', () => {
    for (const service of Object.values(overlay.services)) {
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0] : volume.source;
        if (source?.startsWith('./'))
          expect(existsSync(`${root}docker/${source.slice(2)}`), source).toBe(true);
      }
    }
  });
});
