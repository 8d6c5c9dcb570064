import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandEnvelope, ReplyOf } from '@concord/contracts';
import { startPostgres, type PostgresHandle } from '@concord/infra';
import { type JobFence, ManualClock, Metrics, StaleFencingTokenError } from '@concord/platform';
import {
  makeGid,
  Participant,
  ParticipantDispatcher,
  participantEntities,
  participantMigrations,
} from '@concord/saga';
import type { InventoryConfig } from './config.js';
import { INVENTORY_SUBJECTS, InventoryCommands } from './inventory.commands.js';
import { inventoryEntities } from './inventory.module.js';
import { InventoryRepository } from './inventory.repository.js';
import { InventoryService } from './inventory.service.js';
import { inventoryMigrations } from './migrations/1767300000000-inventory-schema.js';
import { ProductCache } from './read-cache.js';
import type { ProductView } from './stock.js';

/** The handler table driven through the skeleton's dispatcher (parse, kit, after-commit), as NATS drives it. */
function commandsOf(dispatcher: ParticipantDispatcher) {
  const call =
    <S extends (typeof INVENTORY_SUBJECTS)[number]>(subject: S) =>
    (env: unknown) =>
      dispatcher.dispatch(subject, env) as Promise<ReplyOf<S>>;
  return {
    reserve: call('inventory.reserve'),
    release: call('inventory.release'),
    commit: call('inventory.commit'),
    prepare: call('inventory.2pc.prepare'),
    commitPrepared: call('inventory.2pc.commit'),
    abortPrepared: call('inventory.2pc.abort'),
  };
}

/** Medium tests: the inventory service, its repository and the participant kit on a real PostgreSQL. */
describe('inventory on PostgreSQL', () => {
  let server: PostgresHandle;
  let dataSource: DataSource;
  let inventory: InventoryService;
  let commands: ReturnType<typeof commandsOf>;
  const clock = new ManualClock();
  const config = {
    CACHE_MAX_ENTRIES: 100,
    CACHE_TTL_MS: 60_000,
    RESERVATION_TTL_MS: 60_000,
  } as InventoryConfig;

  beforeAll(async () => {
    server = await startPostgres({ databases: ['inventory'] });
    dataSource = new DataSource({
      type: 'postgres',
      url: server.url('inventory'),
      entities: [...inventoryEntities, ...participantEntities],
      migrations: [...inventoryMigrations, ...participantMigrations],
      poolSize: 12,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    const cache = new ProductCache(config, clock, new Metrics());
    inventory = new InventoryService(new InventoryRepository(dataSource), cache, clock, config);
    const participant = new Participant(dataSource, { service: 'inventory' });
    commands = commandsOf(new ParticipantDispatcher(participant, new InventoryCommands(inventory), clock));
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await server?.stop();
  });

  function envelope<P>(step: string, payload: P, transactionId: string = randomUUID()): CommandEnvelope<P> {
    return { messageId: randomUUID(), transactionId, step, payload };
  }

  async function product(sku: string, stock: number, priceCents = 100): Promise<ProductView> {
    return inventory.createProduct({ sku, name: `product ${sku}`, priceCents, stock });
  }

  async function counters(sku: string): Promise<Omit<ProductView, 'name' | 'priceCents' | 'sku'>> {
    const [row] = await dataSource.query<
      Array<{ stock: number; reserved: number; sold: number; received: number }>
    >(
      'SELECT stock::float8 AS stock, reserved::float8 AS reserved, sold::float8 AS sold, received::float8 AS received FROM products WHERE sku = $1',
      [sku],
    );
    if (row === undefined) throw new Error(`no product ${sku}`);
    return row;
  }

  it('creates a product whose initial stock is received, refuses a duplicate sku, adds receipts', async () => {
    await product('p-create', 5);
    await expect(product('p-create', 1)).rejects.toMatchObject({ status: 409 });
    await inventory.receive('p-create', 3);
    expect(await counters('p-create')).toEqual({ stock: 8, reserved: 0, sold: 0, received: 8 });
    const [sum] = await dataSource.query<[{ qty: number }]>(
      `SELECT sum(qty)::int AS qty FROM receipts WHERE sku = 'p-create'`,
    );
    expect(sum.qty).toBe(8);
    await expect(inventory.receive('nope', 1)).rejects.toMatchObject({ status: 404 });
  });

  it('pages through products with a cursor', async () => {
    for (const sku of ['page-a', 'page-b', 'page-c']) await product(sku, 1);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await inventory.listProducts(cursor, 2);
      seen.push(...page.items.map((p) => p.sku));
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(seen.filter((sku) => sku.startsWith('page-'))).toEqual(['page-a', 'page-b', 'page-c']);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('reserves at the current price, then commits to sold', async () => {
    await product('p-r1', 10, 250);
    await product('p-r2', 10, 100);
    const orderId = randomUUID();
    const txn = randomUUID();
    const items = [
      { sku: 'p-r2', qty: 1 },
      { sku: 'p-r1', qty: 2 },
      { sku: 'p-r2', qty: 1 },
    ];
    const reserved = await commands.reserve(envelope('reserve-stock', { orderId, items }, txn));
    expect(reserved).toEqual({
      ok: true,
      result: {
        lines: [
          { sku: 'p-r1', qty: 2, priceCents: 250 },
          { sku: 'p-r2', qty: 2, priceCents: 100 },
        ],
        totalCents: 700,
      },
    });
    expect(await counters('p-r1')).toEqual({ stock: 8, reserved: 2, sold: 0, received: 10 });
    expect(await commands.commit(envelope('commit-stock', { orderId }, txn))).toEqual({
      ok: true,
      result: null,
    });
    expect(await counters('p-r1')).toEqual({ stock: 8, reserved: 0, sold: 2, received: 10 });
    expect(await counters('p-r2')).toEqual({ stock: 8, reserved: 0, sold: 2, received: 10 });
  });

  it('refuses out of stock and unknown skus, keeping nothing of the lines before', async () => {
    await product('p-short-a', 5);
    await product('p-short-b', 1);
    const short = await commands.reserve(
      envelope('reserve-stock', {
        orderId: randomUUID(),
        items: [
          { sku: 'p-short-a', qty: 2 },
          { sku: 'p-short-b', qty: 2 },
        ],
      }),
    );
    expect(short).toEqual({ ok: false, reason: 'out of stock: p-short-b (wanted 2, 1 available)' });
    const unknown = await commands.reserve(
      envelope('reserve-stock', { orderId: randomUUID(), items: [{ sku: 'p-none', qty: 1 }] }),
    );
    expect(unknown).toEqual({ ok: false, reason: 'unknown sku p-none' });
    expect(await counters('p-short-a')).toEqual({ stock: 5, reserved: 0, sold: 0, received: 5 });
  });

  it('releases on compensation, and a late reserve after its compensation is refused', async () => {
    await product('p-comp', 4);
    const orderId = randomUUID();
    const txn = randomUUID();
    await commands.reserve(envelope('reserve-stock', { orderId, items: [{ sku: 'p-comp', qty: 3 }] }, txn));
    expect(await commands.release(envelope('release-stock', { orderId }, txn))).toEqual({
      ok: true,
      result: null,
    });
    expect(await counters('p-comp')).toEqual({ stock: 4, reserved: 0, sold: 0, received: 4 });

    const lateOrder = randomUUID();
    const lateTxn = randomUUID();
    await commands.release(envelope('release-stock', { orderId: lateOrder }, lateTxn));
    const late = await commands.reserve(
      envelope('reserve-stock', { orderId: lateOrder, items: [{ sku: 'p-comp', qty: 1 }] }, lateTxn),
    );
    expect(late.ok).toBe(false);
    expect(await counters('p-comp')).toEqual({ stock: 4, reserved: 0, sold: 0, received: 4 });
  });

  it('answers a re-sent reserve with the first reply and reserves once', async () => {
    await product('p-dup', 5);
    const env = envelope('reserve-stock', {
      orderId: randomUUID(),
      items: [{ sku: 'p-dup', qty: 2 }],
    });
    const [first, second] = await Promise.all([commands.reserve(env), commands.reserve(env)]);
    expect(second).toEqual(first);
    expect(await counters('p-dup')).toEqual({ stock: 3, reserved: 2, sold: 0, received: 5 });
  });

  it('never lets stock go negative under concurrent reservations', async () => {
    await product('p-race', 5);
    const replies = await Promise.all(
      Array.from({ length: 12 }, () =>
        commands.reserve(
          envelope('reserve-stock', {
            orderId: randomUUID(),
            items: [{ sku: 'p-race', qty: 1 }],
          }),
        ),
      ),
    );
    expect(replies.filter((r) => r.ok)).toHaveLength(5);
    expect(await counters('p-race')).toEqual({ stock: 0, reserved: 5, sold: 0, received: 5 });
  });

  it('takes products in sku order: orders naming the same skus in opposite orders never deadlock', async () => {
    await product('p-lock-a', 1_000);
    await product('p-lock-b', 1_000);
    const orders = Array.from({ length: 20 }, (_, n) => ({
      transactionId: randomUUID(),
      orderId: randomUUID(),
      items:
        n % 2 === 0
          ? [
              { sku: 'p-lock-a', qty: 1 },
              { sku: 'p-lock-b', qty: 1 },
            ]
          : [
              { sku: 'p-lock-b', qty: 1 },
              { sku: 'p-lock-a', qty: 1 },
            ],
    }));
    const reserved = await Promise.all(
      orders.map(({ transactionId, ...o }) => commands.reserve(envelope('reserve-stock', o, transactionId))),
    );
    expect(reserved.every((r) => r.ok)).toBe(true);
    const committed = await Promise.all(
      orders.map((o, n) =>
        n % 3 === 0
          ? commands.release(envelope('release-stock', { orderId: o.orderId }, o.transactionId))
          : commands.commit(envelope('commit-stock', { orderId: o.orderId }, o.transactionId)),
      ),
    );
    expect(committed.every((r) => r.ok)).toBe(true);
    const released = orders.filter((_, n) => n % 3 === 0).length;
    for (const sku of ['p-lock-a', 'p-lock-b']) {
      expect(await counters(sku)).toEqual({
        stock: 1_000 - 20 + released,
        reserved: 0,
        sold: 20 - released,
        received: 1_000,
      });
    }
  });

  it('answers a reserve for the same order in another transaction with the first reservation, taking nothing more', async () => {
    await product('p-again', 10, 250);
    const order = { orderId: randomUUID(), items: [{ sku: 'p-again', qty: 3 }] };
    const transactionId = randomUUID();
    const first = await commands.reserve(envelope('reserve-stock', order, transactionId));
    const again = await commands.reserve(envelope('reserve-stock', order, randomUUID()));
    expect(first).toEqual({
      ok: true,
      result: { lines: [{ sku: 'p-again', qty: 3, priceCents: 250 }], totalCents: 750 },
    });
    expect(again).toEqual(first);
    expect(await counters('p-again')).toEqual({ stock: 7, reserved: 3, sold: 0, received: 10 });
  });

  it('refuses at the database a change that would break a counter invariant', async () => {
    await product('p-check', 1);
    await expect(
      dataSource.query(`UPDATE products SET stock = stock - 2 WHERE sku = 'p-check'`),
    ).rejects.toThrow();
    await expect(
      dataSource.query(`UPDATE products SET sold = sold + 1 WHERE sku = 'p-check'`),
    ).rejects.toThrow(/products_counters_balance/);
  });

  const fence = (token: number, holder = 'inventory-a'): JobFence => ({
    job: 'inventory-reservation-expiry',
    holder,
    token,
  });

  it('refuses, in PostgreSQL, the expiry writes of a holder whose fencing token is older than one seen', async () => {
    await product('p-fence', 4);
    const orderId = randomUUID();
    await commands.reserve(envelope('reserve-stock', { orderId, items: [{ sku: 'p-fence', qty: 3 }] }));
    clock.advance(config.RESERVATION_TTL_MS);
    await inventory.claimFence(fence(7, 'inventory-b')); // the next holder's term starts
    await expect(inventory.expireDue(100, fence(5))).rejects.toBeInstanceOf(StaleFencingTokenError);
    // Raw SQL with the stale token is refused too, and nothing of the stale pass landed.
    await expect(
      dataSource.query(`SELECT singleton_fence('inventory-reservation-expiry', 6, 'inventory-a')`),
    ).rejects.toThrow(/stale fencing token/);
    expect(await counters('p-fence')).toEqual({ stock: 1, reserved: 3, sold: 0, received: 4 });
    expect(await inventory.expireDue(100, fence(7, 'inventory-b'))).toContain('p-fence');
    const [row] = await dataSource.query<{ status: string; expired_fence_token: string }[]>(
      `SELECT status, expired_fence_token FROM reservations WHERE order_id = $1`,
      [orderId],
    );
    expect(row).toEqual({ status: 'EXPIRED', expired_fence_token: '7' });
    expect(await counters('p-fence')).toEqual({ stock: 4, reserved: 0, sold: 0, received: 4 });
  });

  it('expires reservations past their expiry back to stock; a later commit sells from stock if it can', async () => {
    await product('p-exp', 3);
    const orderId = randomUUID();
    const txn = randomUUID();
    await commands.reserve(envelope('reserve-stock', { orderId, items: [{ sku: 'p-exp', qty: 2 }] }, txn));
    expect(await inventory.expireDue(100, fence(10))).toEqual([]);
    clock.advance(config.RESERVATION_TTL_MS);
    expect(await inventory.expireDue(100, fence(10))).toContain('p-exp');
    expect(await counters('p-exp')).toEqual({ stock: 3, reserved: 0, sold: 0, received: 3 });
    expect(await commands.commit(envelope('commit-stock', { orderId }, txn))).toEqual({
      ok: true,
      result: null,
    });
    expect(await counters('p-exp')).toEqual({ stock: 1, reserved: 0, sold: 2, received: 3 });
  });

  it('2PC: prepare holds the sale in a prepared transaction; commit makes it visible, abort undoes it', async () => {
    await product('p-2pc', 5, 40);
    const prepareAndDecide = async (decision: 'commit' | 'abort') => {
      const txn = randomUUID();
      const gid = makeGid('inventory', txn);
      const prepared = await commands.prepare(
        envelope(
          'prepare-stock',
          {
            gid,
            operation: { orderId: randomUUID(), items: [{ sku: 'p-2pc', qty: 2 }] },
          },
          txn,
        ),
      );
      expect(prepared).toEqual({
        ok: true,
        result: { gid, result: { lines: [{ sku: 'p-2pc', qty: 2, priceCents: 40 }], totalCents: 80 } },
      });
      // Invisible until decided.
      expect(await counters('p-2pc')).toMatchObject({ sold: decision === 'commit' ? 0 : 2 });
      const decide = envelope(`${decision}`, { gid }, txn);
      const decided =
        decision === 'commit' ? await commands.commitPrepared(decide) : await commands.abortPrepared(decide);
      expect(decided).toEqual({ ok: true, result: null });
    };
    await prepareAndDecide('commit');
    expect(await counters('p-2pc')).toEqual({ stock: 3, reserved: 0, sold: 2, received: 5 });
    await prepareAndDecide('abort');
    expect(await counters('p-2pc')).toEqual({ stock: 3, reserved: 0, sold: 2, received: 5 });
  });

  it('serves product reads from the cache until a write on this instance invalidates them', async () => {
    await product('p-cache', 5);
    expect((await inventory.getProduct('p-cache')).stock).toBe(5);
    await dataSource.query(
      `UPDATE products SET stock = stock + 1, received = received + 1 WHERE sku = 'p-cache'`,
    );
    expect((await inventory.getProduct('p-cache')).stock).toBe(5); // another instance's write: cached until TTL
    await inventory.receive('p-cache', 1);
    expect((await inventory.getProduct('p-cache')).stock).toBe(7);
  });
});
