/**
 * `tsx scripts/bench-transactions.ts`: the same three-service write (reserve stock, charge the account, record
 * the order) done as (a) a saga, (b) two-phase commit, (c) one local transaction touching the same three tables
 * in one database (the baseline), at 1, 16 and 64 concurrent clients. Prints committed transactions per second
 * and p50/p99 latency, and each as a ratio to the baseline.
 *
 * What runs: a private PostgreSQL and NATS; the orchestrator's runtime (SagaRuntime, its durable log and NATS
 * request/reply) in this process, without its HTTP layer; participants built on the real kit
 * (test/transactions/toy-participants.ts), each on its own database. Each client orders its own product for its
 * own account, so the figures measure the mechanisms, not contention on hot rows.
 * Options: `--seconds N` per cell (default 4), `--clients 1,16,64`.
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { startNats, startPostgres, stopAll } from '@concord/infra';
import {
  natsCommandSender,
  orchestratorEntities,
  orchestratorMigrations,
  placeOrderSaga,
  placeOrderTwoPhase,
  SagaLog,
  SagaRuntime,
  SingleInstanceLeadership,
} from '@concord/saga';
import { ToyParticipants } from '../test/transactions/toy-participants.js';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : (process.argv[index + 1] ?? fallback);
}

const secondsPerCell = Number(option('seconds', '4'));
const clientCounts = option('clients', '1,16,64').split(',').map(Number);
const priceCents = 100;

interface Cell {
  mode: 'baseline' | 'saga' | '2pc';
  clients: number;
  committed: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Runs `clients` loops of `once(client, n)` for the cell's duration; latency of each committed call. */
async function measure(
  mode: Cell['mode'],
  clients: number,
  once: (client: number, n: number) => Promise<boolean>,
): Promise<Cell> {
  const latencies: number[] = [];
  const endsAt = performance.now() + secondsPerCell * 1000;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let n = 0; performance.now() < endsAt; n += 1) {
        const t0 = performance.now();
        if (await once(client, n)) latencies.push(performance.now() - t0);
      }
    }),
  );
  const elapsedS = (performance.now() - startedAt) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    mode,
    clients,
    committed: latencies.length,
    perSecond: latencies.length / elapsedS,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

async function main(): Promise<void> {
  const clientsMax = Math.max(...clientCounts);
  const [postgres, nats] = await Promise.all([
    startPostgres({
      databases: ['orchestrator', 'inventory', 'payments', 'orders', 'baseline'],
      settings: { max_connections: 400 },
    }),
    startNats(),
  ]);
  const participantsNc = await connect({ servers: [nats.url] });
  const orchestratorNc = await connect({ servers: [nats.url] });
  const toys = await ToyParticipants.open({
    inventory: postgres.url('inventory'),
    payments: postgres.url('payments'),
    orders: postgres.url('orders'),
  });
  toys.listen(participantsNc);
  for (let c = 0; c < clientsMax; c += 1) {
    await toys.addProduct(`sku-${c}`, priceCents, 1_000_000);
    await toys.addAccount(`customer-${c}`, 1_000_000_000);
  }

  const logSource = new DataSource({
    type: 'postgres',
    url: postgres.url('orchestrator'),
    entities: orchestratorEntities,
    migrations: orchestratorMigrations,
    poolSize: 40,
  });
  await logSource.initialize();
  await logSource.runMigrations();
  const log = new SagaLog(logSource);
  const leadership = new SingleInstanceLeadership(log, 'bench');
  const waiting = new Map<string, (status: string) => void>();
  const early = new Map<string, string>();
  const runtime = new SagaRuntime(
    log,
    leadership,
    natsCommandSender(async () => orchestratorNc),
    [placeOrderSaga(), placeOrderTwoPhase()],
    {
      onFinished: (id, status) => {
        const resolve = waiting.get(id);
        if (resolve === undefined) early.set(id, status);
        else resolve(status);
      },
    },
  );
  await leadership.campaign();

  const baseline = new pg.Pool({ connectionString: postgres.url('baseline'), max: clientsMax + 4 });
  await baseline.query(
    `CREATE TABLE product (sku text PRIMARY KEY, stock integer NOT NULL, sold integer NOT NULL)`,
  );
  await baseline.query(
    `CREATE TABLE account (customer_id text PRIMARY KEY, balance_cents bigint NOT NULL, captured_cents bigint NOT NULL)`,
  );
  await baseline.query(
    `CREATE TABLE orders (id text PRIMARY KEY, status text NOT NULL, total_cents integer NOT NULL)`,
  );
  for (let c = 0; c < clientsMax; c += 1) {
    await baseline.query('INSERT INTO product VALUES ($1, 1000000, 0)', [`sku-${c}`]);
    await baseline.query('INSERT INTO account VALUES ($1, 1000000000, 0)', [`customer-${c}`]);
  }

  let serial = 0;
  const local = async (client: number): Promise<boolean> => {
    const connection = await baseline.connect();
    try {
      await connection.query('BEGIN');
      await connection.query(
        'UPDATE product SET stock = stock - 1, sold = sold + 1 WHERE sku = $1 AND stock >= 1',
        [`sku-${client}`],
      );
      await connection.query(
        'UPDATE account SET balance_cents = balance_cents - $2, captured_cents = captured_cents + $2 WHERE customer_id = $1',
        [`customer-${client}`, priceCents],
      );
      serial += 1;
      await connection.query(`INSERT INTO orders VALUES ($1, 'CONFIRMED', $2)`, [`b-${serial}`, priceCents]);
      await connection.query('COMMIT');
      return true;
    } finally {
      connection.release();
    }
  };
  const distributed =
    (mode: 'saga' | '2pc') =>
    async (client: number): Promise<boolean> => {
      serial += 1;
      const input = {
        orderId: `o-${serial}`,
        customerId: `customer-${client}`,
        items: [{ sku: `sku-${client}`, qty: 1 }],
      };
      const outcome = await runtime.start('place-order', mode, input, `${mode}-${serial}`);
      const id = outcome.instance.id;
      const status = early.get(id) ?? (await new Promise<string>((resolve) => waiting.set(id, resolve)));
      waiting.delete(id);
      early.delete(id);
      return status === 'completed' || status === 'committed';
    };

  const cells: Cell[] = [];
  for (const clients of clientCounts) {
    for (const [mode, once] of [
      ['baseline', local],
      ['saga', distributed('saga')],
      ['2pc', distributed('2pc')],
    ] as const) {
      const cell = await measure(mode, clients, once);
      cells.push(cell);
      process.stdout.write(
        `${mode.padEnd(8)} clients=${String(clients).padStart(2)}  ${cell.perSecond.toFixed(1).padStart(8)} tx/s  ` +
          `p50 ${cell.p50Ms.toFixed(2)} ms  p99 ${cell.p99Ms.toFixed(2)} ms  (${cell.committed} committed)\n`,
      );
    }
  }

  process.stdout.write(
    `\n| mode | clients | tx/s | p50 ms | p99 ms | tx/s vs baseline | p50 vs baseline |\n|---|---:|---:|---:|---:|---:|---:|\n`,
  );
  for (const cell of cells) {
    const base = cells.find((c) => c.mode === 'baseline' && c.clients === cell.clients);
    const tps = base === undefined ? '' : (cell.perSecond / base.perSecond).toFixed(3);
    const p50 = base === undefined ? '' : (cell.p50Ms / base.p50Ms).toFixed(1);
    process.stdout.write(
      `| ${cell.mode} | ${cell.clients} | ${cell.perSecond.toFixed(1)} | ${cell.p50Ms.toFixed(2)} | ${cell.p99Ms.toFixed(2)} | ${tps} | ${p50}x |\n`,
    );
  }
  const violations = await toys.invariantViolations();
  process.stdout.write(
    `\ninvariants after the run: ${violations.length === 0 ? 'hold' : violations.join('; ')}\n`,
  );

  await runtime.stopAll();
  await baseline.end();
  await logSource.destroy();
  await toys.close();
  await participantsNc.drain();
  await orchestratorNc.drain();
  await stopAll();
}

await main();
