/**
 * `npm run bench:transactions [-- --json]`: the same business writes done three ways, at 1 and 64 concurrent
 * clients (`--clients`), cells interleaved across modes, repeated, medians reported.
 *
 * - `baseline`: a monolith. One local transaction in one database inserts the order, sells the stock (product
 *   row + reservation line), captures the funds (account row + hold + capture ledger row).
 * - `saga`: the orchestrator runs place-order as a saga over NATS against three participants, each in its own
 *   process on its own database: reserve stock → hold funds → commit stock, capture funds, confirm the order.
 * - `2pc`: the same as two-phase commit (PREPARE TRANSACTION in inventory and payments, then settle).
 *
 * Processes, as in production: this one (PostgreSQL, NATS, seeding, CPU accounting), the orchestrator, one per
 * participant (inventory, payments, orders) and the load generator. CPU per transaction is read per process from
 * /proc/<pid>/stat (utime + stime) around each cell; PostgreSQL's is the sum over its backends.
 * Each client orders its own product for its own account, so the main rows measure the mechanisms; the `hotRows`
 * row then orders from 5 products at 16 clients (half sagas, half 2PC) and counts outcomes by reason.
 * The end-to-end row (`--gateway URL --token T`, against an idle `npm run stack`) places 100 warm-up orders, then
 * 100 sequential orders per mode, the modes alternating, through the gateway with `?wait=true`.
 *
 * Options: `--seconds 10` per cell, `--warmup 5` seconds per mode, `--repeats 3`, `--clients 1,64`,
 * `--hot-seconds 10`, `--json`, `--cpu-prof DIR` (child processes write V8 CPU profiles there),
 * `--gateway URL`, `--token T` (or API_TOKEN), `--admin-token T` (or ADMIN_TOKEN), `--e2e-orders 100`,
 * `--e2e-warmup 100`.
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { startNats, startPostgres, stopAll } from '@concord/infra';
import {
  natsCommandSender,
  orchestratorEntities,
  orchestratorMigrations,
  SagaLog,
  SagaRuntime,
  SingleInstanceLeadership,
} from '@concord/saga';
import { ToyParticipants, type ToyDatabases } from './transactions/toy-participants.js';
import { startTracing } from '@concord/platform';
import { orchestratorWorkflows } from '../apps/orchestrator/src/workflows/registry.js';
import { handleHelp } from './cli-help.js';

type Mode = 'baseline' | 'saga' | '2pc';
const MODES: readonly Mode[] = ['baseline', 'saga', '2pc'];
const PRICE_CENTS = 100;
const ORDER_SUBJECT = 'bench.order';
const ORDER_TIMEOUT_MS = 120_000;

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : (process.argv[index + 1] ?? fallback);
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

interface Urls extends ToyDatabases {
  orchestrator: string;
  baseline: string;
  nats: string;
}

/** What the load generator sends per order and the orchestrator answers. */
interface OrderRequest {
  mode: 'saga' | '2pc';
  orderId: string;
  customerId: string;
  sku: string;
}
interface OrderAnswer {
  status: string;
  reason?: string;
}

/** One cell, as the load generator measured it. */
interface CellResult {
  committed: number;
  errors: number;
  refused: number;
  elapsedS: number;
  latenciesMs: number[];
  reasons: Record<string, number>;
}

interface CellRequest {
  kind: 'cell';
  mode: Mode;
  clients: number;
  seconds: number;
  /** Products to order from: one per client (0) or this many shared ones. */
  hotProducts: number;
  /** For a hot cell: alternate saga and 2PC per order. */
  mixed: boolean;
  prefix: string;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function median(values: readonly number[]): number {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const round = (value: number, digits = 2): number =>
  Number.isFinite(value) ? Number(value.toFixed(digits)) : 0;

// ---------------------------------------------------------------------------------------------------------------
// Child roles
// ---------------------------------------------------------------------------------------------------------------

function urlsFromEnv(): Urls {
  return JSON.parse(process.env['BENCH_URLS'] ?? '{}') as Urls;
}

async function runParticipant(service: keyof ToyDatabases): Promise<void> {
  const urls = urlsFromEnv();
  const poolSize = Number(process.env['BENCH_POOL'] ?? '32');
  const toys = await ToyParticipants.open(urls, poolSize);
  const nc = await connect({ servers: [urls.nats], noAsyncTraces: true });
  toys.listen(nc, service);
  process.send?.({ ready: true });
  process.on('disconnect', () => {
    void toys
      .close()
      .then(() => nc.drain())
      .finally(() => process.exit(0));
  });
}

async function runOrchestrator(): Promise<void> {
  const urls = urlsFromEnv();
  const logSource = new DataSource({
    type: 'postgres',
    url: urls.orchestrator,
    entities: orchestratorEntities,
    migrations: orchestratorMigrations,
    poolSize: Number(process.env['BENCH_POOL'] ?? '32'),
  });
  await logSource.initialize();
  const log = new SagaLog(logSource);
  const leadership = new SingleInstanceLeadership(log, 'bench');
  const commandsNc = await connect({ servers: [urls.nats], noAsyncTraces: true });
  const waiting = new Map<string, (answer: OrderAnswer) => void>();
  const early = new Map<string, OrderAnswer>();
  const runtime = new SagaRuntime(
    log,
    leadership,
    natsCommandSender(async () => commandsNc),
    orchestratorWorkflows(),
    {
      onFinished: (id, status, reason) => {
        const answer = { status, ...(reason === undefined ? {} : { reason }) };
        const resolve = waiting.get(id);
        waiting.delete(id);
        if (resolve === undefined) early.set(id, answer);
        else resolve(answer);
      },
    },
  );
  await leadership.campaign();
  const serverNc = await connect({ servers: [urls.nats], noAsyncTraces: true });
  serverNc.subscribe(ORDER_SUBJECT, {
    callback: (error, message) => {
      if (error !== null) return;
      let request: OrderRequest;
      try {
        request = message.json<OrderRequest>();
      } catch {
        message.respond(JSON.stringify({ status: 'error', reason: 'malformed request' }));
        return;
      }
      const input = {
        orderId: request.orderId,
        customerId: request.customerId,
        items: [{ sku: request.sku, qty: 1 }],
      };
      void (async () => {
        const outcome = await runtime.start('place-order', request.mode, input, request.orderId);
        const id = outcome.instance.id;
        const known = early.get(id);
        early.delete(id);
        const answer =
          known ??
          (outcome.kind !== 'created' &&
          ['completed', 'committed', 'compensated', 'aborted', 'failed'].includes(outcome.instance.status)
            ? { status: outcome.instance.status }
            : await new Promise<OrderAnswer>((resolve) => waiting.set(id, resolve)));
        message.respond(JSON.stringify(answer));
      })().catch((failure: unknown) =>
        message.respond(JSON.stringify({ status: 'error', reason: (failure as Error).message })),
      );
    },
  });
  process.send?.({ ready: true });
  process.on('disconnect', () => {
    void runtime
      .stopAll()
      .then(() => Promise.all([serverNc.drain(), commandsNc.drain(), logSource.destroy()]))
      .finally(() => process.exit(0));
  });
}

async function runLoad(): Promise<void> {
  const urls = urlsFromEnv();
  const baseline = new pg.Pool({ connectionString: urls.baseline, max: 70 });
  const nc = await connect({ servers: [urls.nats], noAsyncTraces: true });
  const monolith = async (client: number, sku: string, orderId: string): Promise<OrderAnswer> => {
    const connection = await baseline.connect();
    const customerId = `customer-${client}`;
    try {
      await connection.query('BEGIN');
      await connection.query(
        `INSERT INTO orders (id, customer_id, status, total_cents) VALUES ($1, $2, 'PENDING', NULL)`,
        [orderId, customerId],
      );
      const product = await connection.query<{ price_cents: number }>(
        'UPDATE product SET stock = stock - 1, sold = sold + 1 WHERE sku = $1 AND stock >= 1 RETURNING price_cents',
        [sku],
      );
      const price = product.rows[0]?.price_cents;
      if (price === undefined) {
        await connection.query('ROLLBACK');
        return { status: 'cancelled', reason: 'out of stock' };
      }
      await connection.query(
        `INSERT INTO reservation (order_id, sku, qty, status) VALUES ($1, $2, 1, 'sold')`,
        [orderId, sku],
      );
      const account = await connection.query(
        `UPDATE account SET balance_cents = balance_cents - $2, captured_cents = captured_cents + $2
         WHERE customer_id = $1 AND balance_cents >= $2 RETURNING customer_id`,
        [customerId, price],
      );
      if (account.rowCount === 0) {
        await connection.query('ROLLBACK');
        return { status: 'cancelled', reason: 'insufficient funds' };
      }
      await connection.query(
        `INSERT INTO hold (order_id, customer_id, amount_cents, status) VALUES ($1, $2, $3, 'captured')`,
        [orderId, customerId, price],
      );
      await connection.query('INSERT INTO capture_log (order_id, amount_cents) VALUES ($1, $2)', [
        orderId,
        price,
      ]);
      await connection.query(`UPDATE orders SET status = 'CONFIRMED', total_cents = $2 WHERE id = $1`, [
        orderId,
        price,
      ]);
      await connection.query('COMMIT');
      return { status: 'completed' };
    } catch (error) {
      await connection.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      connection.release();
    }
  };
  const distributed = async (request: OrderRequest): Promise<OrderAnswer> => {
    const reply = await nc.request(ORDER_SUBJECT, JSON.stringify(request), { timeout: ORDER_TIMEOUT_MS });
    return reply.json<OrderAnswer>();
  };

  process.on('message', (message: CellRequest) => {
    void (async () => {
      const result: CellResult = {
        committed: 0,
        errors: 0,
        refused: 0,
        elapsedS: 0,
        latenciesMs: [],
        reasons: {},
      };
      const startedAt = performance.now();
      const endsAt = startedAt + message.seconds * 1000;
      await Promise.all(
        Array.from({ length: message.clients }, async (_, client) => {
          for (let n = 0; performance.now() < endsAt; n += 1) {
            const sku =
              message.hotProducts > 0 ? `sku-${(client + n) % message.hotProducts}` : `sku-${client}`;
            const orderId = `${message.prefix}-${client}-${n}`;
            const mode: Mode = message.mixed ? (n % 2 === 0 ? 'saga' : '2pc') : message.mode;
            const t0 = performance.now();
            try {
              const answer =
                mode === 'baseline'
                  ? await monolith(client, sku, orderId)
                  : await distributed({ mode, orderId, customerId: `customer-${client}`, sku });
              if (answer.status === 'completed' || answer.status === 'committed') {
                result.committed += 1;
                result.latenciesMs.push(performance.now() - t0);
              } else if (answer.status === 'error') {
                result.errors += 1;
                result.reasons[`error: ${answer.reason ?? ''}`] =
                  (result.reasons[`error: ${answer.reason ?? ''}`] ?? 0) + 1;
              } else {
                result.refused += 1;
                const reason = answer.reason ?? answer.status;
                result.reasons[reason] = (result.reasons[reason] ?? 0) + 1;
              }
            } catch (error) {
              result.errors += 1;
              const reason = `error: ${(error as Error).message}`;
              result.reasons[reason] = (result.reasons[reason] ?? 0) + 1;
            }
          }
        }),
      );
      result.elapsedS = (performance.now() - startedAt) / 1000;
      process.send?.(result);
    })();
  });
  process.send?.({ ready: true });
  process.on('disconnect', () => {
    void Promise.all([baseline.end(), nc.drain()]).finally(() => process.exit(0));
  });
}

// ---------------------------------------------------------------------------------------------------------------
// The conductor
// ---------------------------------------------------------------------------------------------------------------

const TICKS_PER_S = 100; // USER_HZ on Linux

/** utime + stime of a process in ms (0 if it is gone). */
/** The fields of /proc/<pid>/stat after the command name: fields[0] is field 3 (state), fields[1] the ppid. */
function statFields(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // the process ended
  }
}

/** utime + stime (fields 14 and 15), plus cutime + cstime (16 and 17: children that ended and were reaped). */
function ticksToMs(fields: string[], withReapedChildren = false): number {
  const own = Number(fields[11]) + Number(fields[12]);
  const reaped = withReapedChildren ? Number(fields[13]) + Number(fields[14]) : 0;
  return ((own + reaped) * 1000) / TICKS_PER_S;
}

function cpuMsOf(pid: number): number {
  const fields = statFields(pid);
  return fields === undefined ? 0 : ticksToMs(fields);
}

/**
 * CPU ms of a process and all its direct children (PostgreSQL's backends are children of the postmaster): its own,
 * its children's that ended and were reaped (a backend whose connection closed during a cell keeps counting), and
 * those of the children still running. Never decreases.
 */
function cpuMsOfTree(root: number): number {
  const rootFields = statFields(root);
  let total = rootFields === undefined ? 0 : ticksToMs(rootFields, true);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields !== undefined && Number(fields[1]) === root) total += ticksToMs(fields);
  }
  return total;
}

interface Child {
  name: string;
  process: ChildProcess;
}

function spawnRole(role: string, urls: Urls, extra: string[] = []): Promise<Child> {
  const profileDir = option('cpu-prof', '');
  const execArgv = [
    '--import',
    'tsx',
    ...(profileDir === '' ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir]),
  ];
  const child = fork(import.meta.filename, ['--role', role, ...extra], {
    execArgv,
    env: { ...process.env, BENCH_URLS: JSON.stringify(urls) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const name = extra.length > 0 ? (extra[1] ?? role) : role;
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve({ name, process: child }));
    child.once('exit', (code) =>
      reject(new Error(`${name} exited with ${String(code)} before it was ready`)),
    );
  });
}

function runCell(load: Child, request: CellRequest): Promise<CellResult> {
  return new Promise((resolve) => {
    load.process.once('message', (result: CellResult) => resolve(result));
    load.process.send(request);
  });
}

interface Measured {
  mode: Mode;
  clients: number;
  txPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerTx: number;
  cpuMsPerTxByProcess: Record<string, number>;
  errors: number;
  refused: number;
  retries: number;
}

async function conduct(): Promise<void> {
  const json = flag('json');
  const out = (line: string): void => {
    (json ? process.stderr : process.stdout).write(`${line}\n`);
  };
  const seconds = Number(option('seconds', '10'));
  const warmupS = Number(option('warmup', '5'));
  const repeats = Number(option('repeats', '3'));
  const clientCounts = option('clients', '1,64').split(',').map(Number);
  const hotSeconds = Number(option('hot-seconds', '10'));
  const clientsMax = Math.max(16, ...clientCounts);

  const [postgres, nats] = await Promise.all([
    startPostgres({
      databases: ['orchestrator', 'inventory', 'payments', 'orders', 'baseline'],
      settings: { max_connections: 500, shared_buffers: '256MB' },
    }),
    startNats(),
  ]);
  const urls: Urls = {
    orchestrator: postgres.url('orchestrator'),
    inventory: postgres.url('inventory'),
    payments: postgres.url('payments'),
    orders: postgres.url('orders'),
    baseline: postgres.url('baseline'),
    nats: nats.url,
  };

  // Schemas and seed data: every client its own product and account, the same in every database.
  const logSource = new DataSource({
    type: 'postgres',
    url: urls.orchestrator,
    entities: orchestratorEntities,
    migrations: orchestratorMigrations,
  });
  await logSource.initialize();
  await logSource.runMigrations();
  const toys = await ToyParticipants.open(urls, 2);
  const stock = 100_000_000;
  const funds = 2_000_000_000; // the toy schema keeps cents in an integer column
  for (let c = 0; c < clientsMax; c += 1) {
    await toys.addProduct(`sku-${c}`, PRICE_CENTS, stock);
    await toys.addAccount(`customer-${c}`, funds);
  }
  const baseline = new pg.Pool({ connectionString: urls.baseline, max: 2 });
  await baseline.query(`CREATE TABLE product (sku text PRIMARY KEY, price_cents integer NOT NULL,
    stock integer NOT NULL CHECK (stock >= 0), sold integer NOT NULL DEFAULT 0)`);
  await baseline.query(`CREATE TABLE reservation (order_id text NOT NULL, sku text NOT NULL, qty integer NOT NULL,
    status text NOT NULL, PRIMARY KEY (order_id, sku))`);
  await baseline.query(`CREATE TABLE account (customer_id text PRIMARY KEY, balance_cents bigint NOT NULL
    CHECK (balance_cents >= 0), captured_cents bigint NOT NULL DEFAULT 0)`);
  await baseline.query(`CREATE TABLE hold (order_id text PRIMARY KEY, customer_id text NOT NULL,
    amount_cents integer NOT NULL, status text NOT NULL)`);
  await baseline.query('CREATE TABLE capture_log (order_id text NOT NULL, amount_cents integer NOT NULL)');
  await baseline.query(`CREATE TABLE orders (id text PRIMARY KEY, customer_id text NOT NULL, status text NOT NULL,
    total_cents integer)`);
  for (let c = 0; c < clientsMax; c += 1) {
    await baseline.query('INSERT INTO product (sku, price_cents, stock) VALUES ($1, $2, $3)', [
      `sku-${c}`,
      PRICE_CENTS,
      stock,
    ]);
    await baseline.query('INSERT INTO account (customer_id, balance_cents) VALUES ($1, $2)', [
      `customer-${c}`,
      funds,
    ]);
  }
  await baseline.end();

  const children: Child[] = [];
  try {
    for (const service of ['inventory', 'payments', 'orders'] as const) {
      children.push(await spawnRole('participant', urls, ['--service', service]));
    }
    children.push(await spawnRole('orchestrator', urls));
    const load = await spawnRole('load', urls);
    children.push(load);

    const processes = (): Array<{ name: string; cpuMs: () => number }> => [
      ...children.map((c) => ({ name: c.name, cpuMs: () => cpuMsOf(c.process.pid ?? 0) })),
      { name: 'postgres', cpuMs: () => cpuMsOfTree(postgres.process.pid ?? 0) },
      { name: 'nats', cpuMs: () => cpuMsOf(nats.process.pid ?? 0) },
    ];
    const retriesSoFar = async (): Promise<number> => {
      const rows = await logSource.query<Array<{ n: string | null }>>(
        'SELECT sum(GREATEST(attempts - 1, 0)) AS n FROM saga_step',
      );
      return Number(rows[0]?.n ?? 0);
    };

    let cellSerial = 0;
    const measure = async (
      mode: Mode,
      clients: number,
      cellSeconds: number,
      hot = 0,
    ): Promise<Measured & { raw: CellResult }> => {
      cellSerial += 1;
      const before = processes().map((p) => p.cpuMs());
      const retriesBefore = await retriesSoFar();
      const raw = await runCell(load, {
        kind: 'cell',
        mode,
        clients,
        seconds: cellSeconds,
        hotProducts: hot,
        mixed: hot > 0,
        prefix: `c${cellSerial}`,
      });
      const after = processes().map((p) => p.cpuMs());
      const retries = (await retriesSoFar()) - retriesBefore;
      const done = Math.max(1, raw.committed + raw.refused);
      const byProcess: Record<string, number> = {};
      processes().forEach((p, i) => {
        const used = (after[i] ?? 0) - (before[i] ?? 0);
        // The idle participants and orchestrator of a baseline cell are not part of its cost.
        if (mode === 'baseline' && !['load', 'postgres'].includes(p.name)) return;
        byProcess[p.name] = round(Math.max(0, used) / done, 3);
      });
      raw.latenciesMs.sort((a, b) => a - b);
      return {
        mode,
        clients,
        txPerSec: raw.committed / raw.elapsedS,
        p50Ms: percentile(raw.latenciesMs, 50),
        p99Ms: percentile(raw.latenciesMs, 99),
        cpuMsPerTx: Object.values(byProcess).reduce((a, b) => a + b, 0),
        cpuMsPerTxByProcess: byProcess,
        errors: raw.errors,
        refused: raw.refused,
        retries,
        raw,
      };
    };

    out(`warm-up: ${warmupS} s per mode at ${Math.max(...clientCounts)} clients`);
    for (const mode of MODES) await measure(mode, Math.max(...clientCounts), warmupS);

    const samples = new Map<string, Measured[]>();
    for (let r = 0; r < repeats; r += 1) {
      for (const clients of clientCounts) {
        // Interleaved, and the order rotates per repeat so that no mode always runs first.
        const order = MODES.map((_, i) => MODES[(i + r) % MODES.length] as Mode);
        for (const mode of order) {
          const cell = await measure(mode, clients, seconds);
          const key = `${mode}@${clients}`;
          samples.set(key, [...(samples.get(key) ?? []), cell]);
          out(
            `repeat ${r + 1}/${repeats} ${mode.padEnd(8)} clients=${String(clients).padStart(2)} ` +
              `${cell.txPerSec.toFixed(1).padStart(8)} tx/s  p50 ${cell.p50Ms.toFixed(2)} ms  p99 ${cell.p99Ms.toFixed(2)} ms  ` +
              `cpu ${cell.cpuMsPerTx.toFixed(2)} ms/tx  errors ${cell.errors}  retries ${cell.retries}`,
          );
        }
      }
    }

    const rows = clientCounts.flatMap((clients) =>
      MODES.map((mode) => {
        const cells = samples.get(`${mode}@${clients}`) ?? [];
        const byProcess: Record<string, number> = {};
        for (const name of Object.keys(cells[0]?.cpuMsPerTxByProcess ?? {})) {
          byProcess[name] = round(median(cells.map((c) => c.cpuMsPerTxByProcess[name] ?? 0)), 3);
        }
        return {
          mode,
          clients,
          txPerSec: round(median(cells.map((c) => c.txPerSec)), 1),
          p50Ms: round(median(cells.map((c) => c.p50Ms))),
          p99Ms: round(median(cells.map((c) => c.p99Ms))),
          cpuMsPerTx: round(median(cells.map((c) => c.cpuMsPerTx)), 3),
          errors: cells.reduce((sum, c) => sum + c.errors, 0),
          refused: cells.reduce((sum, c) => sum + c.refused, 0),
          retries: cells.reduce((sum, c) => sum + c.retries, 0),
          cpuMsPerTxByProcess: byProcess,
        };
      }),
    );
    const ratio = (mode: Mode, clients: number): number => {
      const base = rows.find((r) => r.mode === 'baseline' && r.clients === clients)?.txPerSec ?? 0;
      const own = rows.find((r) => r.mode === mode && r.clients === clients)?.txPerSec ?? 0;
      return base > 0 ? round(own / base, 3) : 0;
    };
    const ratios: Record<string, number> = {};
    for (const clients of clientCounts) {
      ratios[`saga@${clients}`] = ratio('saga', clients);
      ratios[`2pc@${clients}`] = ratio('2pc', clients);
    }

    // Contention: 16 clients, 5 products, half sagas, half 2PC; every order should wait its turn and succeed.
    out(`hotRows: 16 clients on 5 products for ${hotSeconds} s, sagas and 2PC alternating`);
    const hot = await measure('saga', 16, hotSeconds, 5);
    const hotRows = {
      clients: 16,
      products: 5,
      placed: hot.raw.committed + hot.raw.refused + hot.raw.errors,
      confirmed: hot.raw.committed,
      cancelled: hot.raw.refused,
      errors: hot.raw.errors,
      cancelledByReason: hot.raw.reasons,
      txPerSec: round(hot.txPerSec, 1),
      p50Ms: round(hot.p50Ms),
      p99Ms: round(hot.p99Ms),
    };

    const e2e = await endToEnd(out);

    const violations = await toys.invariantViolations();
    out('');
    out(
      '| mode | clients | tx/s | p50 ms | p99 ms | CPU ms/tx (all) | CPU ms/tx by process | errors | retries | × baseline |',
    );
    out('|---|---:|---:|---:|---:|---:|---|---:|---:|---:|');
    for (const row of rows) {
      const byProcess = Object.entries(row.cpuMsPerTxByProcess)
        .map(([name, ms]) => `${name} ${ms}`)
        .join(', ');
      const times = row.mode === 'baseline' ? '1' : String(ratio(row.mode, row.clients));
      out(
        `| ${row.mode} | ${row.clients} | ${row.txPerSec} | ${row.p50Ms} | ${row.p99Ms} | ${row.cpuMsPerTx} | ${byProcess} | ${row.errors} | ${row.retries} | ${times} |`,
      );
    }
    out(
      `\nhotRows: ${hotRows.placed} placed, ${hotRows.confirmed} confirmed, ${hotRows.cancelled} cancelled ` +
        `${JSON.stringify(hotRows.cancelledByReason)}, ${hotRows.errors} errors, p50 ${hotRows.p50Ms} ms`,
    );
    if (e2e !== undefined) out(`end-to-end through the gateway: ${JSON.stringify(e2e)}`);
    out(`invariants after the run: ${violations.length === 0 ? 'hold' : violations.join('; ')}`);
    out(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);

    if (json) {
      const result = {
        rows: rows.map(
          ({
            mode,
            clients,
            txPerSec,
            p50Ms,
            p99Ms,
            cpuMsPerTx,
            errors,
            refused,
            retries,
            cpuMsPerTxByProcess,
          }) => ({
            mode,
            clients,
            txPerSec,
            p50Ms,
            p99Ms,
            cpuMsPerTx,
            errors,
            refused,
            retries,
            cpuMsPerTxByProcess,
          }),
        ),
        ratios,
        hotRows,
        ...(e2e === undefined ? {} : { e2e }),
        invariantViolations: violations.length,
      };
      process.stdout.write(`${JSON.stringify(result)}\n`);
    }
  } finally {
    for (const child of children) child.process.disconnect();
    await Promise.all(
      children.map(
        (c) =>
          new Promise((resolve) =>
            c.process.exitCode !== null ? resolve(null) : c.process.once('exit', resolve),
          ),
      ),
    );
    await toys.close();
    await logSource.destroy();
    await stopAll();
  }
}

/**
 * The end-to-end row: `--e2e-orders` sequential orders per mode through the gateway with `?wait=true`. Needs
 * `--gateway URL` (an idle `npm run stack`), `--token` (API_TOKEN) and `--admin-token` (ADMIN_TOKEN) to
 * create its product and account.
 */
async function endToEnd(out: (line: string) => void): Promise<Record<string, unknown> | undefined> {
  const gateway = option('gateway', '');
  if (gateway === '') {
    out('end-to-end row: skipped (run `npm run stack` and pass --gateway URL --token T --admin-token T)');
    return undefined;
  }
  const token = option('token', process.env['API_TOKEN'] ?? '');
  const adminToken = option('admin-token', process.env['ADMIN_TOKEN'] ?? token);
  const orders = Number(option('e2e-orders', '100'));
  const call = async (path: string, body: unknown, bearer: string): Promise<Response> =>
    fetch(`${gateway}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
      body: JSON.stringify(body),
    });
  const tag = Date.now().toString(36);
  const sku = `bench-${tag}`;
  const customerId = `bench-${tag}`;
  await call(
    '/api/inventory/v1/products',
    { sku, name: sku, priceCents: PRICE_CENTS, stock: 1_000_000 },
    adminToken,
  );
  await call('/api/payments/v1/accounts', { customerId }, adminToken);
  await call(`/api/payments/v1/accounts/${customerId}/deposits`, { amountCents: 1_000_000_000 }, adminToken);
  const warmup = Number(option('e2e-warmup', '100'));
  const result: Record<string, unknown> = { orders, warmup };
  const modes = ['saga', '2pc'] as const;
  const place = async (mode: (typeof modes)[number]): Promise<{ ms: number; confirmed: boolean }> => {
    const t0 = performance.now();
    const response = await call(
      '/api/orders/v1/orders?wait=true',
      { customerId, items: [{ sku, qty: 1 }], mode },
      token,
    );
    const body = (await response.json().catch(() => ({}))) as { status?: string };
    return { ms: performance.now() - t0, confirmed: response.status === 200 && body.status === 'CONFIRMED' };
  };
  // Warm-up (JIT, pools, caches of a freshly started stack), then the two modes alternate order by order, so
  // that both meet the same conditions. On an idle stack started a minute before, the first 100 orders per mode
  // measured a p50 20-45 % above the same stack's next runs (docs/transactions.md).
  for (let n = 0; n < warmup; n += 1) await place(modes[n % 2]!);
  const samples = new Map(
    modes.map((mode) => [mode, { latencies: [] as number[], confirmed: 0, failed: 0 }]),
  );
  for (let n = 0; n < 2 * orders; n += 1) {
    const mode = modes[n % 2]!;
    const sample = samples.get(mode)!;
    const { ms, confirmed } = await place(mode);
    sample.latencies.push(ms);
    if (confirmed) sample.confirmed += 1;
    else sample.failed += 1;
  }
  for (const [mode, { latencies, confirmed, failed }] of samples) {
    latencies.sort((a, b) => a - b);
    result[mode] = {
      p50Ms: round(percentile(latencies, 50)),
      p90Ms: round(percentile(latencies, 90)),
      p99Ms: round(percentile(latencies, 99)),
      confirmed,
      failed,
    };
  }
  return result;
}

const role = option('role', 'conductor');
// Tracing as the apps have it: on only when the shell sets OTEL_EXPORTER_OTLP_ENDPOINT (a no-op otherwise).
if (role === 'participant' || role === 'orchestrator')
  await startTracing(`bench-${role}`, `${role}-${process.pid}`);
// Child processes (--role, --service, --urls...) are started by this script itself; a person types the others.
if (option('role', 'conductor') === 'conductor') {
  handleHelp(import.meta.filename, process.argv.slice(2), [
    'admin-token',
    'clients',
    'cpu-prof',
    'e2e-orders',
    'e2e-warmup',
    'gateway',
    'hot-seconds',
    'json',
    'repeats',
    'seconds',
    'token',
    'warmup',
  ]);
}
if (role === 'participant') await runParticipant(option('service', 'inventory') as keyof ToyDatabases);
else if (role === 'orchestrator') await runOrchestrator();
else if (role === 'load') await runLoad();
else await conduct();
