import { ManualClock } from '@concord/platform';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PlaceOrderInput, Reply, TransactionStarted } from '@concord/contracts';
import { startPostgres, waitFor, type PostgresHandle } from '@concord/infra';
import type { OrdersConfig } from './config.js';
import { ordersMigrations } from './migrations/1767300000000-orders-schema.js';
import { OrderEntity } from './order.entity.js';
import { OrderIds } from './order-ids.js';
import { OrchestratorPort } from './orchestrator.client.js';
import { type OrderRow, OrdersRepository } from './orders.repository.js';
import { OrdersService } from './orders.service.js';
import { SettlementSignal } from './settlement-signal.js';

/** An orchestrator that can be down, refuse, or answer; it records every start it received. */
class FakeOrchestrator extends OrchestratorPort {
  mode: 'up' | 'down' | 'refuse' = 'up';
  readonly starts: PlaceOrderInput[] = [];
  /** Runs before the start is answered (a transaction that settles its order before the start's reply lands). */
  beforeAnswer: ((input: PlaceOrderInput) => Promise<unknown>) | undefined;

  async start(_mode: 'saga' | '2pc', input: PlaceOrderInput): Promise<Reply<TransactionStarted>> {
    if (this.mode === 'down') throw new Error('no responders');
    this.starts.push(input);
    await this.beforeAnswer?.(input);
    if (this.mode === 'refuse') return { ok: false, reason: 'unknown workflow' };
    return { ok: true, result: { transactionId: `txn-${input.orderId}` } };
  }
}

/** Medium tests: the orders service and repository on a real PostgreSQL, with the orchestrator faked. */
describe('orders on PostgreSQL', () => {
  const sweeperFence = { job: 'orders-resend-sweeper', holder: 'orders-test', token: 1 };
  let server: PostgresHandle;
  let dataSource: DataSource;
  let orders: OrdersService;
  const orchestrator = new FakeOrchestrator();
  const clock = new ManualClock();
  const signal = new SettlementSignal<OrderRow>();
  const config = {
    ORDER_WAIT_TIMEOUT_MS: 5_000,
    ORDER_WAIT_RECHECK_MS: 1_000,
    ORDER_RESEND_AFTER_MS: 10_000,
  } as OrdersConfig;
  const line = [{ sku: 'a', qty: 1 }];

  beforeAll(async () => {
    server = await startPostgres({ databases: ['orders'] });
    dataSource = new DataSource({
      type: 'postgres',
      url: server.url('orders'),
      entities: [OrderEntity],
      migrations: ordersMigrations,
      poolSize: 6,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    orders = new OrdersService(
      new OrdersRepository(dataSource),
      orchestrator,
      signal,
      new OrderIds(),
      clock,
      config,
    );
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await server?.stop();
  });

  beforeEach(() => {
    orchestrator.mode = 'up';
    orchestrator.beforeAnswer = undefined;
    vi.restoreAllMocks();
  });

  it('records the order PENDING and starts its transaction with the order id as idempotency key', async () => {
    const placed = await orders.place({ customerId: 'c1', items: line, mode: 'saga' }, { wait: false });
    expect(placed).toMatchObject({ status: 'PENDING', transactionId: `txn-${placed.orderId}` });
    expect(orchestrator.starts.at(-1)).toEqual({ orderId: placed.orderId, customerId: 'c1', items: line });
    expect(await orders.get(placed.orderId)).toMatchObject({
      status: 'PENDING',
      mode: 'saga',
      totalCents: null,
    });
  });

  it('keeps the order PENDING when the orchestrator is unreachable, and the sweeper re-sends it later', async () => {
    orchestrator.mode = 'down';
    const placed = await orders.place({ customerId: 'c2', items: line, mode: '2pc' }, { wait: false });
    expect(placed).toMatchObject({ status: 'PENDING', transactionId: null });
    orchestrator.mode = 'up';
    const before = orchestrator.starts.length;
    expect(await orders.resendStale(100, sweeperFence)).toBe(0); // not old enough yet
    clock.advance(config.ORDER_RESEND_AFTER_MS);
    expect(await orders.resendStale(100, sweeperFence)).toBeGreaterThanOrEqual(1);
    expect(orchestrator.starts.slice(before).map((s) => s.orderId)).toContain(placed.orderId);
    expect((await orders.get(placed.orderId)).transactionId).toBe(`txn-${placed.orderId}`);
    // Just re-sent: not again until ORDER_RESEND_AFTER_MS has passed once more.
    expect(await orders.resendStale(100, sweeperFence)).toBe(0);
  });

  it('re-sends each stale order once even when several instances sweep at the same moment', async () => {
    orchestrator.mode = 'down';
    const stale: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      stale.push(
        (await orders.place({ customerId: 'c-sweep', items: line, mode: 'saga' }, { wait: false })).orderId,
      );
    }
    orchestrator.mode = 'up';
    clock.advance(config.ORDER_RESEND_AFTER_MS);
    const before = orchestrator.starts.length;
    // Two "instances" (services on the same database) sweep concurrently, in small batches.
    const other = new OrdersService(
      new OrdersRepository(dataSource),
      orchestrator,
      signal,
      new OrderIds(),
      clock,
      config,
    );
    await Promise.all([
      orders.resendStale(4, sweeperFence),
      other.resendStale(4, sweeperFence),
      orders.resendStale(4, sweeperFence),
    ]);
    const resent = orchestrator.starts
      .slice(before)
      .map((s) => s.orderId)
      .filter((id) => stale.includes(id));
    expect(resent.sort()).toEqual([...stale].sort());
  });

  it('cancels an order the orchestrator refuses to start', async () => {
    orchestrator.mode = 'refuse';
    const placed = await orders.place({ customerId: 'c3', items: line, mode: 'saga' }, { wait: false });
    expect(placed).toMatchObject({ status: 'CANCELLED', reason: 'unknown workflow' });
  });

  it('settles once: a repeat is acknowledged, a contradiction does not change the order', async () => {
    const { orderId } = await orders.place({ customerId: 'c4', items: line, mode: 'saga' }, { wait: false });
    expect(await orders.settle({ orderId, status: 'CONFIRMED', totalCents: 990 })).toEqual({
      ok: true,
      result: null,
    });
    expect(await orders.settle({ orderId, status: 'CONFIRMED', totalCents: 990 })).toEqual({
      ok: true,
      result: null,
    });
    expect(await orders.settle({ orderId, status: 'CANCELLED', reason: 'late' })).toEqual({
      ok: true,
      result: null,
    });
    expect(await orders.get(orderId)).toMatchObject({ status: 'CONFIRMED', totalCents: 990 });
    expect(
      await orders.settle({ orderId: '00000000-0000-4000-8000-000000000000', status: 'CONFIRMED' }),
    ).toEqual({
      ok: false,
      reason: 'no order 00000000-0000-4000-8000-000000000000',
    });
  });

  it('answers ?wait=true once the order settles', async () => {
    orchestrator.mode = 'up';
    const waiting = orders.place({ customerId: 'c5', items: line, mode: 'saga' }, { wait: true });
    const orderId = await waitFor(() => orchestrator.starts.find((s) => s.customerId === 'c5')?.orderId, {
      timeoutMs: 5_000,
      intervalMs: 10,
      description: 'the order reaches the orchestrator',
    });
    await orders.settle({ orderId, status: 'CANCELLED', reason: 'out of stock: a' });
    expect(await waiting).toMatchObject({ orderId, status: 'CANCELLED', reason: 'out of stock: a' });
  });

  it('answers ?wait=true from a settle on this instance, with no read of its own', async () => {
    const find = vi.spyOn(OrdersRepository.prototype, 'find');
    const waiting = orders.place({ customerId: 'c5b', items: line, mode: 'saga' }, { wait: true });
    const orderId = await waitFor(() => orchestrator.starts.find((s) => s.customerId === 'c5b')?.orderId, {
      timeoutMs: 5_000,
      intervalMs: 10,
      description: 'the order reaches the orchestrator',
    });
    await waitFor(() => signal.waiting > 0 || undefined, {
      timeoutMs: 5_000,
      intervalMs: 5,
      description: 'the request waits',
    });
    await orders.settle({ orderId, status: 'CONFIRMED', totalCents: 330 });
    expect(await waiting).toMatchObject({ orderId, status: 'CONFIRMED', totalCents: 330 });
    expect(find).not.toHaveBeenCalled();
  });

  it('answers ?wait=true when the order settles before the start is answered', async () => {
    orchestrator.beforeAnswer = (input) =>
      orders.settle({ orderId: input.orderId, status: 'CANCELLED', reason: 'out of stock: a' });
    const placed = await orders.place({ customerId: 'c5c', items: line, mode: 'saga' }, { wait: true });
    expect(placed).toMatchObject({ status: 'CANCELLED', reason: 'out of stock: a' });
    expect(await orders.get(placed.orderId)).toMatchObject({
      status: 'CANCELLED',
      transactionId: `txn-${placed.orderId}`,
    });
  });

  it('answers a repeated Idempotency-Key with the first order', async () => {
    const first = await orders.place(
      { customerId: 'c6', items: line, mode: 'saga' },
      { wait: false, idempotencyKey: 'k-1' },
    );
    const again = await orders.place(
      { customerId: 'c6', items: line, mode: 'saga' },
      { wait: false, idempotencyKey: 'k-1' },
    );
    expect(again.orderId).toBe(first.orderId);
  });

  it('scopes an Idempotency-Key to its customer, and refuses it for a different request (422)', async () => {
    const mine = await orders.place(
      { customerId: 'c7', items: line, mode: 'saga' },
      { wait: false, idempotencyKey: 'k-shared' },
    );
    const theirs = await orders.place(
      { customerId: 'c8', items: line, mode: 'saga' },
      { wait: false, idempotencyKey: 'k-shared' },
    );
    expect(theirs.orderId).not.toBe(mine.orderId);
    const changed = orders.place(
      { customerId: 'c7', items: [{ sku: 'other', qty: 3 }], mode: 'saga' },
      { wait: false, idempotencyKey: 'k-shared' },
    );
    await expect(changed).rejects.toMatchObject({ status: 422 });
    const sameAgain = await orders.place(
      { customerId: 'c7', items: line, mode: 'saga' },
      { wait: false, idempotencyKey: 'k-shared' },
    );
    expect(sameAgain.orderId).toBe(mine.orderId);
  });

  it("pages through a customer's orders, newest first", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      ids.push(
        (await orders.place({ customerId: 'c-page', items: line, mode: 'saga' }, { wait: false })).orderId,
      );
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await orders.list('c-page', cursor, 2);
      seen.push(...page.items.map((o) => o.id));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(seen).toEqual(ids.reverse());
    await expect(orders.list('c-page', 'bogus', 2)).rejects.toMatchObject({ status: 400 });
  });
});
