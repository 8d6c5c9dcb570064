/**
 * Singleton jobs under a lock, with real processes: two inventory instances, one coordinator, one PostgreSQL.
 * One instance holds the reservation-expiry job; it is frozen (SIGSTOP) past its lease while reservations come
 * due; the other takes over within one lease TTL with a larger fencing token and releases them; the first is
 * thawed (SIGCONT) and, still believing it holds the job, tries again: PostgreSQL refuses its token. Every expired
 * reservation is released exactly once, each by the term that holds the job.
 */
import { freePort, ProcessGroup, startNats, startPostgres, startProcess, waitFor } from '@concord/infra';
import type { NatsHandle, PostgresHandle, ProcessHandle } from '@concord/infra';
import pg from 'pg';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { READ_TOKEN, SERVICE_TOKENS, startCoordinatorCluster } from '../coordinator/cluster.js';
import { CoordinationClient } from '@concord/coordination-client';
import { generateInternalTokenKeyPair } from '@concord/platform';

const internalKeys = generateInternalTokenKeyPair();
import { builtMain } from '../domain/domain-stack.js';

const JOB = 'inventory-reservation-expiry';
const TTL_SECONDS = 2;
const group = new ProcessGroup();
let postgres: PostgresHandle | undefined;
let nats: NatsHandle | undefined;
let db: pg.Client | undefined;

beforeEach(({ onTestFailed }) => group.printLogsOnFailure(onTestFailed));
afterAll(async () => {
  await db?.end();
  await group.stopAll();
  await nats?.stop();
  await postgres?.stop();
});

interface Instance {
  readonly id: string;
  readonly url: string;
  readonly proc: ProcessHandle;
}

async function fenceRow(): Promise<{ token: number; holder: string } | undefined> {
  const { rows } = await db!.query<{ token: string; holder: string }>(
    'SELECT token, holder FROM singleton_fences WHERE job = $1',
    [JOB],
  );
  return rows[0] ? { token: Number(rows[0].token), holder: rows[0].holder } : undefined;
}

async function reserve(sku: string, count: number, dueInMs: number): Promise<void> {
  await db!.query(`UPDATE products SET stock = stock - $2, reserved = reserved + $2 WHERE sku = $1`, [
    sku,
    count,
  ]);
  await db!.query(
    `INSERT INTO reservations (order_id, sku, qty, price_cents, status, expires_at)
     SELECT 'o-' || gen_random_uuid(), $1, 1, 100, 'RESERVED', now() + make_interval(secs => $3::float8 / 1000)
     FROM generate_series(1, $2)`,
    [sku, count, dueInMs],
  );
}

async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{job="${JOB}"}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('singleton jobs under a coordinator lock', () => {
  it('a frozen holder is replaced within one lease TTL and none of its stale writes lands', async () => {
    const cluster = await startCoordinatorCluster(group, 1);
    postgres = await startPostgres({ databases: ['inventory'] });
    nats = await startNats();
    const start = async (id: string): Promise<Instance> => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const proc = await startProcess({
        name: id,
        command: process.execPath,
        args: ['--enable-source-maps', builtMain('inventory')],
        env: {
          PORT: String(port),
          HOST: '127.0.0.1',
          INSTANCE_ID: id,
          LOG_LEVEL: 'info',
          DATABASE_URL: postgres!.url('inventory'),
          NATS_URL: nats!.url,
          INTERNAL_TOKEN_PUBLIC_KEY: internalKeys.publicKeyPem,
          COORDINATOR_URLS: cluster.urls.join(','),
          // Inventory's own coordinator token: its registration and its job's lock (inventory-*).
          COORDINATOR_TOKEN: SERVICE_TOKENS['inventory'] ?? '',
          SINGLETON_LEASE_TTL_SECONDS: String(TTL_SECONDS),
          RESERVATION_SWEEP_INTERVAL_MS: '100',
        },
        ready: { url: `${url}/health/ready`, timeoutMs: 60_000 },
      });
      group.add(proc);
      return { id, url, proc };
    };
    const a = await start('inventory-a');
    const b = await start('inventory-b');
    db = new pg.Client({ connectionString: postgres.url('inventory') });
    await db.connect();
    await db.query(
      `INSERT INTO products (sku, name, price_cents, stock, received) VALUES ('w', 'widget', 100, 1000, 1000)`,
    );

    const first = await waitFor(fenceRow, { timeoutMs: 30_000, description: 'an instance holds the job' });
    const holder = first.holder === a.id ? a : b;
    const other = holder === a ? b : a;
    expect(await metric(holder.url, 'singleton_job_held')).toBe(1);
    expect(await metric(other.url, 'singleton_job_held')).toBe(0);
    // The coordinator names the holder: the lock key at the head of the line carries the instance's name.
    const locks = await new CoordinationClient({ urls: cluster.urls, token: READ_TOKEN }).range(
      `locks/${JOB}/`,
    );
    const head = [...locks.items].sort((x, y) => x.createRevision - y.createRevision)[0];
    expect(head?.value).toBe(holder.id);
    expect(head?.createRevision).toBe(first.token);

    // Reservations due now are released by the holder under its token.
    await reserve('w', 20, 0);
    await waitFor(
      async () =>
        (await db!.query(`SELECT 1 FROM reservations WHERE status = 'RESERVED'`)).rowCount === 0 || undefined,
      { timeoutMs: 10_000, description: 'the holder releases the first batch' },
    );

    // Freeze the holder past its lease; reservations come due while it is frozen.
    holder.proc.sigstop();
    const frozenAt = Date.now();
    await reserve('w', 30, 300);
    const takeover = await waitFor(
      async () => {
        const row = await fenceRow();
        return row && row.holder === other.id ? row : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, description: 'the other instance takes the job over' },
    );
    const takeoverMs = Date.now() - frozenAt;
    expect(takeover.token).toBeGreaterThan(first.token);
    // One lease TTL, plus the lock's hand-over and the first claim (the coordinator expires leases on its ticks).
    expect(takeoverMs).toBeLessThan(TTL_SECONDS * 1000 + 1_500);
    await waitFor(
      async () =>
        (await db!.query(`SELECT 1 FROM reservations WHERE status = 'RESERVED'`)).rowCount === 0 || undefined,
      { timeoutMs: 10_000, description: 'the new holder releases what came due' },
    );

    // More work comes due, then the old holder wakes up still believing it holds the job.
    await reserve('w', 30, 0);
    holder.proc.sigcont();
    await waitFor(async () => ((await metric(holder.url, 'singleton_job_held')) === 0 ? true : undefined), {
      timeoutMs: 15_000,
      description: 'the thawed instance notices it lost the job',
    });
    await waitFor(
      async () =>
        (await db!.query(`SELECT 1 FROM reservations WHERE status = 'RESERVED'`)).rowCount === 0 || undefined,
      { timeoutMs: 10_000, description: 'every due reservation released' },
    );

    // Nothing released after the freeze carries the stale token, and every reservation was released exactly once.
    const stale = await db.query(
      `SELECT count(*)::int AS n FROM reservations WHERE expired_fence_token = $1 AND updated_at > to_timestamp($2::float8 / 1000)`,
      [first.token, frozenAt],
    );
    expect((stale.rows[0] as { n: number }).n).toBe(0);
    const byToken = await db.query<{ token: string; n: number }>(
      `SELECT expired_fence_token AS token, count(*)::int AS n FROM reservations GROUP BY 1 ORDER BY 1`,
    );
    expect(byToken.rows.reduce((s, r) => s + r.n, 0)).toBe(80);
    expect(byToken.rows.every((r) => r.token !== null)).toBe(true);
    const counters = await db.query(
      `SELECT stock::int AS stock, reserved::int AS reserved, sold::int AS sold, received::int AS received FROM products WHERE sku = 'w'`,
    );
    expect(counters.rows[0]).toEqual({ stock: 1000, reserved: 0, sold: 0, received: 1000 });
    // A write with the stale token, tried by hand, is refused by PostgreSQL itself.
    await expect(
      db.query('SELECT singleton_fence($1, $2, $3)', [JOB, first.token, holder.id]),
    ).rejects.toThrow(/stale fencing token/);
    const now = await fenceRow();
    expect(now!.token).toBeGreaterThanOrEqual(takeover.token);
    // The stale term was ended by the database or by its lost lease; the operator sees who holds the job.
    expect(await metric(other.url, 'singleton_job_held')).toBe(1);
    expect(await metric(other.url, 'singleton_job_fencing_token')).toBe(now!.token);
  });
});
