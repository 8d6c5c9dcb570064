import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { waitFor } from '@concord/infra';
import { DomainApi } from './domain-api.js';
import { type DomainStack, isBuilt, startDomainStack } from './domain-stack.js';
import { checkInvariants, readSnapshot } from './invariants.js';

/**
 * End to end: PostgreSQL, NATS, orders, inventory, payments and the orchestrator as real processes. Orders are
 * placed over HTTP in both modes, including refusals (out of stock, insufficient funds, unknown sku/account) that
 * must end CANCELLED with nothing held; after every phase the invariant checker reads the three databases.
 * Needs `npm run build` (the processes run dist/).
 */
describe('place order, end to end', () => {
  let stack: DomainStack;
  let api: DomainApi;

  beforeAll(async () => {
    if (!isBuilt('orchestrator'))
      throw new Error('dist/apps/orchestrator is missing: run `npm run build` first');
    stack = await startDomainStack({
      env: {
        // A quick re-send of PENDING orders, for the orchestrator-down scenario.
        orders: {
          ORDER_RESEND_AFTER_MS: '1000',
          ORDER_SWEEP_INTERVAL_MS: '250',
          ORDER_WAIT_TIMEOUT_MS: '30000',
        },
      },
    });
    api = new DomainApi(
      (service) => stack.urls[service],
      (service) => stack.token(service),
    );
    await api.createProduct('apple', 100, 10);
    await api.createProduct('pear', 250, 3);
    await api.createProduct('plum', 40, 6);
    await api.openAccount('rich', 100_000);
    await api.openAccount('poor', 300);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  function printLogsOnFailure(): void {
    onTestFailed(() => stack.processes.printLogs(undefined, 80));
  }

  async function expectInvariants(): Promise<void> {
    const violations = checkInvariants(await readSnapshot(stack.databaseUrls));
    expect(violations).toEqual([]);
  }

  for (const mode of ['saga', '2pc'] as const) {
    it(`${mode}: confirms an order, charging the prices at reservation time`, async () => {
      printLogsOnFailure();
      const placed = await api.placeOrder(
        'rich',
        [
          { sku: 'apple', qty: 2 },
          { sku: 'pear', qty: 1 },
        ],
        mode,
      );
      expect(placed.status).toBe(200);
      expect(placed.body).toMatchObject({ status: 'CONFIRMED', totalCents: 450 });
      expect(placed.body.transactionId).toEqual(expect.any(String));
      expect(await api.order(placed.body.orderId)).toMatchObject({ status: 'CONFIRMED', totalCents: 450 });
      await expectInvariants();
    });

    it(`${mode}: cancels out-of-stock, insufficient-funds and unknown orders with nothing held`, async () => {
      printLogsOnFailure();
      const cases: Array<[string, Array<{ sku: string; qty: number }>, RegExp]> = [
        ['rich', [{ sku: 'pear', qty: 50 }], /out of stock: pear/],
        ['poor', [{ sku: 'apple', qty: 4 }], /insufficient funds/],
        ['rich', [{ sku: 'durian', qty: 1 }], /unknown sku durian/],
        ['nobody', [{ sku: 'plum', qty: 1 }], /unknown account nobody/],
      ];
      for (const [customer, items, reason] of cases) {
        const placed = await api.placeOrder(customer, items, mode);
        expect(placed.body, `${customer} ${JSON.stringify(items)}`).toMatchObject({ status: 'CANCELLED' });
        expect(placed.body.reason).toMatch(reason);
      }
      expect(await api.get('payments', '/v1/accounts/poor')).toMatchObject({
        balanceCents: 300,
        heldCents: 0,
      });
      await expectInvariants();
    });
  }

  it('keeps the invariants with concurrent orders in both modes competing for scarce stock', async () => {
    printLogsOnFailure();
    const placed = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        api.placeOrder(
          'rich',
          [
            { sku: 'plum', qty: 1 },
            { sku: 'apple', qty: 1 },
          ],
          i % 2 === 0 ? 'saga' : '2pc',
        ),
      ),
    );
    const outcomes = placed.map((p) => p.body.status);
    expect(outcomes.every((s) => s === 'CONFIRMED' || s === 'CANCELLED')).toBe(true);
    // 6 plums in stock (earlier orders bought none), so at most 6 of the 16 can confirm.
    expect(outcomes.filter((s) => s === 'CONFIRMED').length).toBeLessThanOrEqual(6);
    expect(outcomes.filter((s) => s === 'CONFIRMED').length).toBeGreaterThan(0);
    const plum = (await api.get('inventory', '/v1/products/plum')) as { stock: number; reserved: number };
    expect(plum.reserved).toBe(0);
    await expectInvariants();
  });

  it('leaves an order PENDING while the orchestrator is down, and its sweeper re-sends it after', async () => {
    printLogsOnFailure();
    const orchestrator = stack.orchestrator;
    if (orchestrator === undefined) throw new Error('the orchestrator was not started');
    await api.createProduct('kiwi', 70, 2);
    await orchestrator.stop();
    const placed = await api.placeOrder('rich', [{ sku: 'kiwi', qty: 1 }], 'saga', false);
    expect(placed).toMatchObject({ status: 202, body: { status: 'PENDING', transactionId: null } });
    // A new orchestrator process (as after a crash and a redeploy), on the same database.
    await stack.start('orchestrator');
    const settled = await waitFor(
      async () => {
        const order = await api.order(placed.body.orderId);
        return order.status === 'PENDING' ? undefined : order;
      },
      { timeoutMs: 60_000, intervalMs: 200, description: 'the re-sent order settles' },
    );
    expect(settled).toMatchObject({ status: 'CONFIRMED', totalCents: 70 });
    await expectInvariants();
  });

  it('validates input (400 naming the field) and guards writes (401)', async () => {
    const bad = await api.request('orders', 'POST', '/v1/orders', {
      customerId: 'rich',
      items: [],
      mode: '3pc',
    });
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { errors: Array<{ field: string }> };
    expect(problem.errors.map((e) => e.field).sort()).toEqual(['items', 'mode']);
    const anonymous = await api.request('orders', 'POST', '/v1/orders', {}, false);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });

  it('counts read-cache hits and misses per cache', async () => {
    await api.get('inventory', '/v1/products/apple');
    await api.get('inventory', '/v1/products/apple');
    const metrics = await api.text('inventory', '/metrics');
    expect(metrics).toMatch(/cache_hits_total\{cache="products"\} [1-9]/);
    expect(metrics).toMatch(/cache_misses_total\{cache="products"\} [1-9]/);
    const docs = (await api.get('orders', '/docs-json')) as { paths: Record<string, unknown> };
    expect(Object.keys(docs.paths)).toContain('/v1/orders');
  });
});
