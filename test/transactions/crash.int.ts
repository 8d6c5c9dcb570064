import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import pg from 'pg';
import { waitFor, type ProcessHandle } from '@concord/infra';
import { DomainApi } from '../domain/domain-api.js';
import { type DomainStack, isBuilt, startDomainStack } from '../domain/domain-stack.js';
import { checkInvariants, readSnapshot } from '../domain/invariants.js';

/**
 * Crash tests with real processes: orders, two instances each of inventory and payments, and the orchestrator
 * (all built under dist/), on a private PostgreSQL and NATS. Clients place orders in both modes while a nemesis
 * SIGKILLs the orchestrator, SIGKILLs a participant instance, restarts nats-server and crashes PostgreSQL. When the faults stop and
 * everything has settled: every order is CONFIRMED or CANCELLED, every saga completed or compensated and every
 * two-phase transaction committed or aborted, `pg_prepared_xacts` is empty in every database, and the domain
 * invariants (which include "each effect exactly once") hold.
 *
 * The fault schedule comes from SEED (printed on failure); the processes' own timing is not deterministic, so
 * a failure is replayed by running the suite again with the same SEED and reading the printed process logs.
 */
const SEED = 20_261_123;
const clients = 4;

/** mulberry32: a small seeded PRNG, so the nemesis schedule is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const unfinished = ['running', 'compensating', 'preparing', 'committing', 'aborting'];

describe('transactions under crashes (real processes)', () => {
  let stack: DomainStack;
  let api: DomainApi;
  let orchestrator: { process: ProcessHandle; url: string };
  const extra: Record<'inventory' | 'payments', ProcessHandle | undefined> = {
    inventory: undefined,
    payments: undefined,
  };

  beforeAll(async () => {
    for (const app of ['orchestrator', 'orders', 'inventory', 'payments']) {
      if (!isBuilt(app)) throw new Error(`dist/apps/${app} is missing: run \`npm run build\` first`);
    }
    stack = await startDomainStack({
      orchestrator: false,
      env: {
        orders: {
          ORDER_RESEND_AFTER_MS: '1000',
          ORDER_SWEEP_INTERVAL_MS: '250',
          ORDER_WAIT_TIMEOUT_MS: '1000',
        },
      },
    });
    orchestrator = await stack.start('orchestrator', {
      SAGA_ATTEMPT_TIMEOUT_MS: '500',
      SAGA_STEP_DEADLINE_MS: '4000',
      SAGA_RETRIABLE_TIMEOUT_MS: '500',
      OUTBOX_RELAY_INTERVAL_MS: '100',
    });
    extra.inventory = (await stack.start('inventory')).process;
    extra.payments = (await stack.start('payments')).process;
    api = new DomainApi(
      (service) => stack.urls[service],
      (service) => stack.token(service),
    );
    for (const sku of ['apple', 'pear', 'plum']) await api.createProduct(sku, 100, 500);
    for (const customer of ['c1', 'c2', 'c3']) await api.openAccount(customer, 100_000);
    await api.openAccount('poor', 150);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function preparedEverywhere(): Promise<number> {
    let total = 0;
    for (const url of [...Object.values(stack.databaseUrls), stack.postgres.url('orchestrator')]) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        total +=
          (await client.query('SELECT gid FROM pg_prepared_xacts WHERE database = current_database()'))
            .rowCount ?? 0;
      } finally {
        await client.end();
      }
    }
    return total;
  }

  async function orchestratorCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const path of ['/v1/sagas?limit=500', '/v1/transactions?limit=500']) {
      const response = await fetch(`${orchestrator.url}${path}`, {
        headers: { authorization: `Bearer ${await stack.token('orchestrator')}` },
      });
      const body = (await response.json()) as { items: Array<{ status: string }> };
      for (const item of body.items) counts[item.status] = (counts[item.status] ?? 0) + 1;
    }
    return counts;
  }

  it('ends every transaction committed or aborted everywhere, exactly once, through SIGKILLs, a NATS restart and a PostgreSQL crash', async () => {
    onTestFailed(() => {
      process.stderr.write(`\ncrash test SEED=${SEED}\n`);
      stack.processes.printLogs(undefined, 60);
    });
    const random = prng(SEED);
    const placed: string[] = [];
    let loadRunning = true;
    const skus = ['apple', 'pear', 'plum'];
    const customers = ['c1', 'c2', 'c3', 'poor'];

    const client = async (index: number): Promise<void> => {
      let n = 0;
      while (loadRunning) {
        n += 1;
        const sku = skus[(index + n) % skus.length] ?? 'apple';
        const customer = customers[(index * 7 + n) % customers.length] ?? 'c1';
        const mode = (index + n) % 2 === 0 ? 'saga' : '2pc';
        try {
          const result = await api.placeOrder(customer, [{ sku, qty: 1 + (n % 3) }], mode, false);
          if (result.status === 202 || result.status === 200) placed.push(result.body.orderId);
        } catch {
          // The orders service itself is never killed here, but a request may meet a NATS restart: go on.
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };

    const faults: Array<[string, () => Promise<void>]> = [
      [
        'SIGKILL orchestrator',
        async () => {
          orchestrator.process.sigkill();
          await orchestrator.process.waitForExit(10_000);
          await orchestrator.process.restart();
        },
      ],
      [
        'SIGKILL an inventory instance',
        async () => {
          extra.inventory?.sigkill();
          await extra.inventory?.waitForExit(10_000);
          await extra.inventory?.restart();
        },
      ],
      ['restart nats-server', async () => stack.nats.restart(2_000)],
      [
        // SIGQUIT is PostgreSQL's immediate shutdown: no checkpoint, crash recovery at the next start. Commits made
        // with synchronous_commit off whose WAL was not yet written are lost, as in a crash of the server; the
        // orchestrator's log may be behind the commands it sent (writes behind, unflushed transitions).
        'crash PostgreSQL',
        async () => {
          stack.postgres.process.kill('SIGQUIT');
          await stack.postgres.process.waitForExit(10_000);
          await stack.postgres.process.restart();
        },
      ],
      [
        'SIGKILL a payments instance',
        async () => {
          extra.payments?.sigkill();
          await extra.payments?.waitForExit(10_000);
          await extra.payments?.restart();
        },
      ],
    ];
    /** Every fault once, in an order and at moments drawn from SEED; the load runs until the last one healed. */
    const nemesis = async (): Promise<string[]> => {
      const order = faults
        .map((fault) => ({ fault, key: random() }))
        .sort((a, b) => a.key - b.key)
        .map((f) => f.fault);
      const done: string[] = [];
      for (const [name, fault] of order) {
        await new Promise((resolve) => setTimeout(resolve, 500 + Math.floor(random() * 1_500)));
        await fault();
        done.push(name);
      }
      // Some load after the last fault, so that recovery is exercised under traffic too.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      return done;
    };

    const [applied] = await Promise.all([
      nemesis().finally(() => {
        loadRunning = false;
      }),
      ...Array.from({ length: clients }, (_, i) => client(i)),
    ]);
    expect(applied.length).toBe(faults.length);
    expect(placed.length).toBeGreaterThan(20);

    // Liveness: with the faults over, everything settles.
    const faultsOverAt = Date.now();
    await waitFor(
      async () => {
        for (const id of placed) if ((await api.order(id)).status === 'PENDING') return false;
        return true;
      },
      { timeoutMs: 90_000, intervalMs: 500, description: 'every order settled' },
    );
    await waitFor(
      async () => {
        const counts = await orchestratorCounts();
        return unfinished.every((s) => (counts[s] ?? 0) === 0) && (await preparedEverywhere()) === 0;
      },
      { timeoutMs: 60_000, intervalMs: 500, description: 'orchestrator idle and nothing prepared' },
    );

    // Safety.
    const counts = await orchestratorCounts();
    expect(counts.failed ?? 0).toBe(0);
    expect(
      Object.keys(counts).every((s) => ['completed', 'compensated', 'committed', 'aborted'].includes(s)),
    ).toBe(true);
    const orders = await Promise.all(placed.map(async (id) => api.order(id)));
    const statuses = orders.map((o) => o.status);
    const reasons: Record<string, number> = {};
    for (const o of orders) {
      const reason = (o.reason ?? o.status).replace(/[0-9a-f-]{36}|sku-\S+/g, '*');
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
    expect(statuses.every((s) => s === 'CONFIRMED' || s === 'CANCELLED')).toBe(true);
    expect(statuses.filter((s) => s === 'CONFIRMED').length).toBeGreaterThan(0);
    expect(await preparedEverywhere()).toBe(0);
    expect(checkInvariants(await readSnapshot(stack.databaseUrls))).toEqual([]);
    process.stdout.write(
      `crash test SEED=${SEED}: faults ${applied.join(', ')}; ${placed.length} orders, ` +
        `${statuses.filter((s) => s === 'CONFIRMED').length} confirmed; orchestrator ${JSON.stringify(counts)}; ` +
        `settled ${Date.now() - faultsOverAt} ms after the last fault; outcomes ${JSON.stringify(reasons)}\n`,
    );
  });
});
