import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { type DemoContext, field, http, pollUntil } from '../context.js';
import { pidListeningOn } from '../processes.js';

const job = 'inventory-reservation-expiry';
const firstBatch = 20;
const secondBatch = 20;

interface Holder {
  readonly token: number;
  readonly holder: string;
}

/** The job's row in inventory's fence table: the largest token PostgreSQL has seen, and who claimed it. */
async function fenceRow(db: pg.Client): Promise<Holder | undefined> {
  const { rows } = await db.query<{ token: string; holder: string }>(
    'SELECT token, holder FROM singleton_fences WHERE job = $1',
    [job],
  );
  return rows[0] ? { token: Number(rows[0].token), holder: rows[0].holder } : undefined;
}

async function openReservations(db: pg.Client, sku: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM reservations WHERE sku = $1 AND status = 'RESERVED'`,
    [sku],
  );
  return rows[0]?.n ?? 0;
}

/** Reservations of orders whose saga never finishes (as if their orchestrator were gone), due in `dueInMs`. */
async function strand(db: pg.Client, sku: string, count: number, dueInMs: number): Promise<void> {
  await db.query('BEGIN');
  await db.query('UPDATE products SET stock = stock - $2, reserved = reserved + $2 WHERE sku = $1', [
    sku,
    count,
  ]);
  await db.query(
    `INSERT INTO reservations (order_id, sku, qty, price_cents, status, expires_at)
     SELECT 'demo-' || gen_random_uuid(), $1, 1, 100, 'RESERVED', now() + make_interval(secs => $3::float8 / 1000)
     FROM generate_series(1, $2)`,
    [sku, count, dueInMs],
  );
  await db.query('COMMIT');
}

/** The singleton gauges of one inventory instance, from its /metrics. */
async function gauges(url: string): Promise<string> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
    const value = (name: string): string =>
      text
        .split('\n')
        .find((l) => l.startsWith(`${name}{job="${job}"}`))
        ?.split(' ')
        .pop() ?? '?';
    return `held ${value('singleton_job_held')}, token ${value('singleton_job_fencing_token')}, fenced ${value('singleton_job_fenced_total')}`;
  } catch {
    return 'no answer';
  }
}

/**
 * Singleton jobs under a lock: inventory's reservation expiry runs on one instance, elected through the coordinator's
 * lock, every release carrying the lock's fencing token. The holder is frozen (SIGSTOP) past its lease; the other
 * instance takes over within one lease TTL and releases what comes due; the frozen one is thawed (SIGCONT) and
 * wakes up believing it holds the job: PostgreSQL refuses its token. Every stranded reservation is released once.
 */
export async function singletonJob(ctx: DemoContext): Promise<void> {
  const { narrator: n, stack } = ctx;
  const password = readFileSync(path.join(stack.dataDir, 'postgres', 'password'), 'utf8').trim();
  const db = new pg.Client({
    host: '127.0.0.1',
    port: stack.postgresPort,
    user: 'concord',
    password,
    database: 'inventory',
  });
  await db.connect();
  let frozenPid: number | undefined;
  try {
    const registry = await http(`${stack.coordinatorUrls[0] ?? ''}/v1/services/inventory`, {
      token: stack.coordinatorToken,
    });
    const instances = field(registry.body, 'instances');
    const urlOf = new Map<string, string>(
      Array.isArray(instances) ? instances.map((i) => [String(field(i, 'id')), String(field(i, 'url'))]) : [],
    );
    n.say(`inventory instances in the registry: ${[...urlOf.keys()].join(', ') || '(none)'}`);

    const first = await pollUntil(() => fenceRow(db), 30_000);
    if (!n.check('one inventory instance holds the reservation-expiry job', first !== undefined)) return;
    const holderUrl = urlOf.get(first!.holder);
    n.say(`${first!.holder} holds ${job} with fencing token ${first!.token}`);
    for (const [id, url] of urlOf) n.say(`  ${id}: ${await gauges(url)}`);
    if (!n.check('the holder is in the registry', holderUrl !== undefined, first!.holder)) return;
    const pid = pidListeningOn(Number(new URL(holderUrl!).port));
    if (!n.check('the holder process is found', pid !== undefined, holderUrl)) return;

    const sku = `demo-singleton-${ctx.runId}`;
    await db.query(
      `INSERT INTO products (sku, name, price_cents, stock, received) VALUES ($1, 'singleton demo widget', 100, 1000, 1000)`,
      [sku],
    );
    n.step(
      `SIGSTOP ${first!.holder} (pid ${pid}): frozen, it keeps its sockets and its belief that it holds the job`,
    );
    process.kill(pid!, 'SIGSTOP');
    frozenPid = pid;
    const frozenAt = Date.now();
    await strand(db, sku, firstBatch, 500);
    n.say(`${firstBatch} reservations of ${sku} come due in 0.5 s, while the holder is frozen`);

    const takeover = await pollUntil(
      async () => {
        const row = await fenceRow(db);
        return row && row.holder !== first!.holder ? row : undefined;
      },
      60_000,
      100,
    );
    const takeoverMs = Date.now() - frozenAt;
    if (!n.check('another instance takes the job over', takeover !== undefined)) return;
    n.say(
      `${takeover!.holder} holds the job with token ${takeover!.token}, ${(takeoverMs / 1000).toFixed(1)} s after the freeze`,
    );
    n.check(
      'the new token is larger',
      takeover!.token > first!.token,
      `${takeover!.token} > ${first!.token}`,
    );
    const released = await pollUntil(
      async () => ((await openReservations(db, sku)) === 0 ? true : undefined),
      20_000,
    );
    n.check(`the new holder releases the ${firstBatch} stranded reservations`, released === true);

    n.step(
      `SIGCONT ${first!.holder}: it wakes up with token ${first!.token}, while ${secondBatch} more come due`,
    );
    await strand(db, sku, secondBatch, 0);
    process.kill(pid!, 'SIGCONT');
    frozenPid = undefined;
    await pollUntil(async () => ((await gauges(holderUrl!)).startsWith('held 0') ? true : undefined), 20_000);
    for (const [id, url] of urlOf) n.say(`  ${id}: ${await gauges(url)}`);
    const all = await pollUntil(
      async () => ((await openReservations(db, sku)) === 0 ? true : undefined),
      20_000,
    );
    n.check('every stranded reservation is released', all === true);

    const stale = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM reservations
       WHERE sku = $1 AND expired_fence_token = $2 AND updated_at > to_timestamp($3::float8 / 1000)`,
      [sku, first!.token, frozenAt],
    );
    n.check(
      "none of the stale holder's writes landed",
      stale.rows[0]?.n === 0,
      `${stale.rows[0]?.n} released with token ${first!.token}`,
    );
    const byToken = await db.query<{ token: string; n: number }>(
      `SELECT expired_fence_token AS token, count(*)::int AS n FROM reservations WHERE sku = $1 GROUP BY 1 ORDER BY 1`,
      [sku],
    );
    n.say(`released by token: ${byToken.rows.map((r) => `${r.token}: ${r.n}`).join(', ')}`);
    const counters = await db.query<{ stock: number; reserved: number }>(
      'SELECT stock, reserved FROM products WHERE sku = $1',
      [sku],
    );
    n.check(
      'each reservation released exactly once (stock back to 1000, nothing reserved)',
      counters.rows[0]?.stock === 1000 && counters.rows[0]?.reserved === 0,
      JSON.stringify(counters.rows[0]),
    );
    let refused = '';
    try {
      await db.query('SELECT singleton_fence($1, $2, $3)', [job, first!.token, first!.holder]);
    } catch (error) {
      refused = (error as Error).message;
    }
    n.say(`a write with token ${first!.token} tried by hand: ${refused || 'accepted'}`);
    n.check('PostgreSQL refuses a write carrying the stale token', /stale fencing token/.test(refused));
  } finally {
    if (frozenPid !== undefined) process.kill(frozenPid, 'SIGCONT');
    await db.end();
  }
}
