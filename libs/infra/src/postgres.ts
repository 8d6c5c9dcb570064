import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import pg from 'pg';

import { freePort } from './ports.js';
import { findPostgresBinaries, type PostgresBinaries } from './postgres-binaries.js';
import { startProcess, tailLines, ProcessStartError, type ProcessHandle } from './process.js';
import { registerStopper, registerTempDir } from './registry.js';
import { chownTree, ensureSystemUser, isRoot, makeAncestorsTraversable, type UnixUser } from './unix-user.js';

/** Options of {@link startPostgres}. */
export interface PostgresOptions {
  /**
   * Directory that holds everything of this server (layout below). Given: created if missing, reused if it already
   * holds a cluster (state survives restarts), never deleted. Omitted: a temp dir, deleted by `stop()`.
   *
   * Layout: `pgdata/` (the cluster), `password` (the superuser's, mode 0600), `run/` (unix socket), `postgres.log`.
   */
  dataDir?: string;
  /** TCP port on 127.0.0.1. Default: a free port (retried if another process takes it first). */
  port?: number;
  /** Databases to create (if missing) once the server is ready. */
  databases?: readonly string[];
  /** Keep a temp data dir after `stop()` (to inspect it). Given data dirs are always kept. */
  keep?: boolean;
  /** Directory of `initdb` and `postgres`; default: see {@link findPostgresBinaries}. */
  binDir?: string;
  /** Deadline for initdb plus start-up. Default 60 s. */
  startTimeoutMs?: number;
  /** Extra server settings (`-c name=value`), applied after the defaults. */
  settings?: Readonly<Record<string, string | number>>;
  /** Every server log line (e.g. to print it with a prefix). */
  onLine?: (line: string) => void;
}

/** A running private PostgreSQL server. */
export interface PostgresHandle {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly dataDir: string;
  /** The superuser (`concord`) and its password. */
  readonly user: string;
  readonly password: string;
  readonly binaries: PostgresBinaries;
  /** The postmaster process: for fault tests (sigstop, sigkill, restart) and its log. */
  readonly process: ProcessHandle;
  /** `postgres://concord:<password>@127.0.0.1:<port>/<db>` (default db `postgres`). */
  url(db?: string): string;
  /** Creates database `name` unless it exists. Names: lower-case letters, digits, `_`. */
  createDatabase(name: string): Promise<void>;
  /**
   * Least privilege for one service: a login role named `name` (no superuser, no CREATEDB, no CREATEROLE; its
   * password set to `password`), owner of database `name` (created if missing) and of everything in it, and the
   * only ordinary role allowed to connect to it. Answers the role's connection URL. Idempotent: run at every
   * start, it also hands over tables an earlier superuser-run migration created, and rotates the password.
   */
  createServiceDatabase(name: string, password: string): Promise<string>;
  /** `postgres://<role>:<password>@127.0.0.1:<port>/<db>`. */
  roleUrl(role: string, password: string, db: string): string;
  /** Fast shutdown (rolls back open transactions, keeps prepared ones), then removes a temp data dir. */
  stop(): Promise<void>;
}

/**
 * Server settings every private cluster gets. `max_prepared_transactions` > 0 is what two-phase commit needs, and
 * it is kept >= `max_connections` (see {@link startPostgres}): every connection may hold a prepared branch, and a
 * prepare refused for want of a slot would abort an order for no business reason.
 */
export const POSTGRES_SETTINGS_DEFAULT: Readonly<Record<string, string | number>> = {
  listen_addresses: '127.0.0.1',
  max_prepared_transactions: 200,
  max_connections: 200,
  fsync: 'on',
  // Logs go to stderr, captured by the process harness; a collector would add a process and hide the lines.
  logging_collector: 'off',
};

const superuser = 'concord';
const runAsUserName = 'concord-pg';
const startTimeoutMsDefault = 60_000;
const stopGraceMs = 30_000;
const portAttemptsMax = 3;
/** sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS); the socket file name adds ~17. */
const socketPathBytesMax = 100;
const databaseNamePattern = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Starts a private PostgreSQL server: `initdb` (unless the data dir holds a cluster), then `postgres` on
 * 127.0.0.1 with password (SCRAM) authentication for superuser `concord`, and waits until it accepts connections.
 *
 * As root, the server runs as the system user `concord-pg` (created if missing), because PostgreSQL refuses to run as
 * root; the data dir is given to that user and its ancestors made traversable. Everything started is registered for
 * teardown on exit or signal, see {@link stopAll}.
 */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresHandle> {
  const deadlineMs = Date.now() + (options.startTimeoutMs ?? startTimeoutMsDefault);
  const binaries = findPostgresBinaries(options.binDir);
  const runAs = isRoot() ? await ensureSystemUser(runAsUserName) : undefined;

  const temporary = options.dataDir === undefined;
  const dataDir = path.resolve(options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'concord-pg-')));
  const unregisterDir = temporary && options.keep !== true ? registerTempDir(dataDir) : () => undefined;
  try {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const layout = dataLayout(dataDir);
    if (runAs) {
      makeAncestorsTraversable(dataDir);
      makeAncestorsTraversable(binaries.binDir);
      chownTree(dataDir, runAs);
    }
    const password = fs.existsSync(path.join(layout.pgdata, 'PG_VERSION'))
      ? readPassword(layout.password)
      : await initCluster(binaries, layout, runAs, temporary, deadlineMs);
    fs.mkdirSync(layout.run, { recursive: true, mode: 0o700 });
    if (runAs) fs.chownSync(layout.run, runAs.uid, runAs.gid);

    const { process: postmaster, port } = await startServer({
      options,
      binaries,
      layout,
      runAs,
      password,
      deadlineMs,
    });
    const handle = new PostgresServer(
      port,
      dataDir,
      password,
      binaries,
      postmaster,
      temporary && options.keep !== true,
      unregisterDir,
    );
    try {
      for (const name of options.databases ?? []) await handle.createDatabase(name);
    } catch (error: unknown) {
      await handle.stop();
      throw error;
    }
    return handle;
  } catch (error: unknown) {
    if (temporary && options.keep !== true) {
      fs.rmSync(dataDir, { recursive: true, force: true });
      unregisterDir();
    }
    throw error;
  }
}

interface DataLayout {
  readonly root: string;
  readonly pgdata: string;
  readonly password: string;
  readonly run: string;
  readonly log: string;
}

function dataLayout(root: string): DataLayout {
  return {
    root,
    pgdata: path.join(root, 'pgdata'),
    password: path.join(root, 'password'),
    run: path.join(root, 'run'),
    log: path.join(root, 'postgres.log'),
  };
}

function readPassword(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (error: unknown) {
    throw new Error(`${file} is missing: the cluster beside it was not created by this harness`, {
      cause: error,
    });
  }
}

async function initCluster(
  binaries: PostgresBinaries,
  layout: DataLayout,
  runAs: UnixUser | undefined,
  temporary: boolean,
  deadlineMs: number,
): Promise<string> {
  // base64url: safe in a URL's userinfo without escaping.
  const password = randomBytes(18).toString('base64url');
  fs.writeFileSync(layout.password, `${password}\n`, { mode: 0o600 });
  if (runAs) fs.chownSync(layout.password, runAs.uid, runAs.gid);
  const args = [
    '--pgdata',
    layout.pgdata,
    '--username',
    superuser,
    `--pwfile=${layout.password}`,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C',
    // A temp cluster dies with the test: flushing initdb's files to disk would only cost time.
    ...(temporary ? ['--no-sync'] : []),
  ];
  const { code, output } = await runToCompletion(
    binaries.initdb,
    args,
    layout.root,
    runAs,
    deadlineMs - Date.now(),
  );
  if (code !== 0) {
    throw new Error(`initdb failed (exit ${String(code)}) for ${layout.pgdata}:\n${tailLines(output, 30)}`);
  }
  return password;
}

function runToCompletion(
  command: string,
  args: readonly string[],
  cwd: string,
  runAs: UnixUser | undefined,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: Math.max(1, timeoutMs),
      killSignal: 'SIGKILL',
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

interface ServerStart {
  options: PostgresOptions;
  binaries: PostgresBinaries;
  layout: DataLayout;
  runAs: UnixUser | undefined;
  password: string;
  deadlineMs: number;
}

async function startServer(start: ServerStart): Promise<{ process: ProcessHandle; port: number }> {
  const { options, binaries, layout, runAs, password } = start;
  for (let attempt = 1; ; attempt += 1) {
    const port = options.port ?? (await freePort());
    const settings: Record<string, string | number> = {
      ...POSTGRES_SETTINGS_DEFAULT,
      unix_socket_directories: layout.run.length <= socketPathBytesMax ? layout.run : '',
      ...options.settings,
    };
    // One prepared-transaction slot per connection, whatever max_connections a caller asks for.
    if (Number(settings['max_prepared_transactions']) < Number(settings['max_connections'])) {
      settings['max_prepared_transactions'] = settings['max_connections'] ?? 200;
    }
    const args = ['-D', layout.pgdata, '-p', String(port)];
    for (const [name, value] of Object.entries(settings)) args.push('-c', `${name}=${String(value)}`);
    try {
      const postmaster = await startProcess({
        name: `postgres:${port}`,
        command: binaries.postgres,
        args,
        cwd: layout.root,
        // A kept data dir keeps its log beside it; a temp one logs to the harness's log dir, which outlives stop()
        // so that a failed test can still print it.
        ...(options.dataDir !== undefined ? { logFile: layout.log } : {}),
        ...(runAs ? { user: { uid: runAs.uid, gid: runAs.gid } } : {}),
        ...(options.onLine ? { onLine: options.onLine } : {}),
        // SIGINT is PostgreSQL's fast shutdown; SIGQUIT its immediate one, which still releases shared memory.
        stopSignal: 'SIGINT',
        emergencySignal: 'SIGQUIT',
        ready: {
          probe: () => canQuery(connectionUrl(port, password, 'postgres')),
          timeoutMs: Math.max(1_000, start.deadlineMs - Date.now()),
          intervalMs: 100,
        },
      });
      return { process: postmaster, port };
    } catch (error: unknown) {
      const portTaken =
        error instanceof ProcessStartError && /could not bind|address already in use/i.test(error.message);
      if (!portTaken || options.port !== undefined || attempt >= portAttemptsMax) throw error;
    }
  }
}

function connectionUrl(port: number, password: string, db: string): string {
  return `postgres://${superuser}:${password}@127.0.0.1:${port}/${db}`;
}

async function canQuery(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

class PostgresServer implements PostgresHandle {
  readonly host = '127.0.0.1' as const;
  readonly user = superuser;
  private stopped: Promise<void> | undefined;
  private readonly unregisterStopper: () => void;

  constructor(
    readonly port: number,
    readonly dataDir: string,
    readonly password: string,
    readonly binaries: PostgresBinaries,
    readonly process: ProcessHandle,
    private readonly removeOnStop: boolean,
    private readonly unregisterDir: () => void,
  ) {
    this.unregisterStopper = registerStopper(`postgres:${port}`, () => this.stop());
  }

  url(db = 'postgres'): string {
    return connectionUrl(this.port, this.password, db);
  }

  async createDatabase(name: string): Promise<void> {
    if (!databaseNamePattern.test(name)) {
      throw new Error(`invalid database name '${name}': use lower-case letters, digits and _ (at most 63)`);
    }
    const client = new pg.Client({ connectionString: this.url('postgres') });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (existing.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
    } catch (error: unknown) {
      // Two callers may race to create the same database; the loser sees a duplicate.
      if (!(error instanceof Error && /already exists/.test(error.message))) throw error;
    } finally {
      await client.end();
    }
  }

  roleUrl(role: string, password: string, db: string): string {
    return `postgres://${role}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${db}`;
  }

  async createServiceDatabase(name: string, password: string): Promise<string> {
    if (!databaseNamePattern.test(name) || name === superuser) {
      throw new Error(
        `invalid service database name '${name}': use lower-case letters, digits and _ (at most 63)`,
      );
    }
    const admin = new pg.Client({ connectionString: this.url('postgres') });
    admin.on('error', () => undefined);
    await admin.connect();
    try {
      const literal = (await admin.query<{ l: string }>('SELECT quote_literal($1) AS l', [password])).rows[0]
        ?.l;
      const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
      const attributes = 'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';
      await admin.query(
        role.rowCount === 0
          ? `CREATE ROLE "${name}" ${attributes} PASSWORD ${literal}`
          : `ALTER ROLE "${name}" ${attributes} PASSWORD ${literal}`,
      );
      await this.createDatabase(name);
      await admin.query(`ALTER DATABASE "${name}" OWNER TO "${name}"`);
      // Only the owner (and the superuser) may connect: another service's role cannot even open a session.
      await admin.query(`REVOKE ALL ON DATABASE "${name}" FROM PUBLIC`);
    } finally {
      await admin.end();
    }
    // Objects created by migrations that once ran as the superuser become the service's.
    const inDatabase = new pg.Client({ connectionString: this.url(name) });
    inDatabase.on('error', () => undefined);
    await inDatabase.connect();
    try {
      const owned = await inDatabase.query<{ kind: string; name: string }>(
        `SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END AS kind,
                format('%I.%I', n.nspname, c.relname) AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v')
            AND pg_get_userbyid(c.relowner) <> $1
            AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))`,
        [name],
      );
      for (const row of owned.rows)
        await inDatabase.query(`ALTER ${row.kind} ${row.name} OWNER TO "${name}"`);
    } finally {
      await inDatabase.end();
    }
    return this.roleUrl(name, password, name);
  }

  stop(): Promise<void> {
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<void> {
    this.unregisterStopper();
    await this.process.stop(stopGraceMs);
    if (this.removeOnStop) fs.rmSync(this.dataDir, { recursive: true, force: true, maxRetries: 3 });
    this.unregisterDir();
  }
}
