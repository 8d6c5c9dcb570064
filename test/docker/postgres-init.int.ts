/**
 * docker/postgres-init/10-service-databases.sql, run as the postgres image runs it (psql, ON_ERROR_STOP, as the
 * superuser, into POSTGRES_DB) against the harness's real PostgreSQL: one login role per service that owns its
 * database and nothing else, can run two-phase commit there, and cannot reach any other database; a missing or
 * short password stops the script with a message naming the variable, before any role exists.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DOMAIN_SERVICES } from '@concord/contracts';
import { type PostgresHandle, startPostgres } from '@concord/infra';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = path.join(ROOT, 'docker/postgres-init/10-service-databases.sql');
const SERVICES = DOMAIN_SERVICES.filter((s) => s.database).map((s) => s.app);
const passwordOf = (service: string) => `Pw-${service}-0123456789abcdef`;
const variableOf = (service: string) => `POSTGRES_PASSWORD_${service.toUpperCase()}`;

let postgres: PostgresHandle;

/** psql as docker-entrypoint.sh's docker_process_sql calls it, with `env` as the container's environment. */
async function initScript(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  // psql beside the server binaries, else the one on PATH (a client of any version 15+ runs the script).
  const beside = path.join(postgres.binaries.binDir, 'psql');
  const psql = existsSync(beside) ? beside : 'psql';
  return run(
    psql,
    [
      '-v',
      'ON_ERROR_STOP=1',
      '--no-psqlrc',
      '--no-password',
      '-h',
      '127.0.0.1',
      '-p',
      String(postgres.port),
    ].concat(['-U', postgres.user, '-d', 'concord', '-f', SCRIPT]),
    { env: { PATH: process.env['PATH'] ?? '', PGPASSWORD: postgres.password, ...env } },
  ).then(
    ({ stderr }) => ({ code: 0, stderr }),
    (error: { code?: number; stderr?: string }) => ({ code: error.code ?? 1, stderr: error.stderr ?? '' }),
  );
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const allPasswords = () => Object.fromEntries(SERVICES.map((s) => [variableOf(s), passwordOf(s)]));

beforeAll(async () => {
  postgres = await startPostgres({ databases: ['concord'] });
}, 90_000);

afterAll(async () => {
  await postgres?.stop();
});

describe('docker/postgres-init/10-service-databases.sql', () => {
  it('stops with the variable named when a password is missing or short, creating no role', async () => {
    const first = SERVICES[0] ?? 'orders';
    const missing = { ...allPasswords() };
    delete missing[variableOf(first)];
    const unset = await initScript(missing);
    expect(unset.code).not.toBe(0);
    expect(unset.stderr).toContain(`${variableOf(first)} is not set or shorter than 16 characters`);

    const short = await initScript({ ...allPasswords(), [variableOf(first)]: 'short' });
    expect(short.code).not.toBe(0);
    expect(short.stderr).toContain(variableOf(first));

    const roles = await query<{ rolname: string }>(
      postgres.url(),
      `SELECT rolname FROM pg_roles WHERE rolname = ANY('{${SERVICES.join(',')}}')`,
    );
    expect(roles).toEqual([]);
  });

  it('creates one least-privilege role per service database, in the topology order', async () => {
    const result = await initScript(allPasswords());
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);

    const roles = await query<Record<string, unknown>>(
      postgres.url(),
      `SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin
         FROM pg_roles WHERE rolname = ANY('{${SERVICES.join(',')}}') ORDER BY rolname`,
    );
    expect(roles).toEqual(
      [...SERVICES].sort().map((rolname) => ({
        rolname,
        rolsuper: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolreplication: false,
        rolbypassrls: false,
        rolcanlogin: true,
      })),
    );
    const owners = await query<{ datname: string; owner: string }>(
      postgres.url(),
      `SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = ANY('{${SERVICES.join(',')}}')`,
    );
    expect(Object.fromEntries(owners.map((o) => [o.datname, o.owner]))).toEqual(
      Object.fromEntries(SERVICES.map((s) => [s, s])),
    );
    // The orchestrator's database last: compose's healthcheck connects to it to mean "the script ran".
    const script = readFileSync(SCRIPT, 'utf8');
    const created = [...script.matchAll(/^CREATE DATABASE (\w+) OWNER (\w+);$/gm)].map((m) => m[1]);
    expect(created).toEqual(SERVICES);
    expect(created.at(-1)).toBe('orchestrator');
  });

  it.each(SERVICES)('%s works in its own database, two-phase commit included', async (service) => {
    const client = new pg.Client({
      connectionString: postgres.roleUrl(service, passwordOf(service), service),
    });
    await client.connect();
    try {
      await client.query('CREATE TABLE probe (id bigint PRIMARY KEY, note text NOT NULL)');
      await client.query('BEGIN');
      await client.query("INSERT INTO probe VALUES (1, 'prepared')");
      await client.query(`PREPARE TRANSACTION 'probe-${service}'`);
      await client.query(`COMMIT PREPARED 'probe-${service}'`);
      expect((await client.query('SELECT note FROM probe')).rows).toEqual([{ note: 'prepared' }]);
      await expect(client.query(`CREATE DATABASE ${service}_more`)).rejects.toThrow(/permission denied/);
      await expect(client.query(`CREATE ROLE ${service}_more`)).rejects.toThrow(/permission denied/);
    } finally {
      await client.end();
    }
  });

  it.each(SERVICES)('%s cannot connect to any other database', async (service) => {
    const others = [...SERVICES.filter((s) => s !== service), 'postgres', 'concord'];
    for (const database of others) {
      await expect(
        query(postgres.roleUrl(service, passwordOf(service), database), 'SELECT 1'),
        `${service} -> ${database}`,
      ).rejects.toThrow(/permission denied for database/);
    }
  });

  it('refuses a wrong password', async () => {
    const service = SERVICES[0] ?? 'orders';
    await expect(
      query(postgres.roleUrl(service, 'not-the-password-0123', service), 'SELECT 1'),
    ).rejects.toThrow(/password authentication failed/);
  });
});
