import { NATS_USERS, type NatsUser, natsInboxPrefix, natsUserConfigs } from '@concord/contracts';
import { type NatsHandle, startNats, startPostgres, type PostgresHandle, waitFor } from '@concord/infra';
import { ManualClock, NatsConnectionHolder, ReadinessRegistry } from '@concord/platform';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlaceOrderInput, Reply, TransactionStarted } from '@concord/contracts';
import type { OrdersConfig } from './config.js';
import { ordersMigrations } from './migrations/1767300000000-orders-schema.js';
import { OrderEntity } from './order.entity.js';
import { OrderIds } from './order-ids.js';
import { OrchestratorPort } from './orchestrator.client.js';
import { type OrderRow, OrdersRepository } from './orders.repository.js';
import { OrdersService } from './orders.service.js';
import { NatsSettlementPeers } from './settlement-peers.nats.js';
import { SettlementSignal } from './settlement-signal.js';

class RecordingOrchestrator extends OrchestratorPort {
  readonly starts: PlaceOrderInput[] = [];
  start(_mode: 'saga' | '2pc', input: PlaceOrderInput): Promise<Reply<TransactionStarted>> {
    this.starts.push(input);
    return Promise.resolve({ ok: true, result: { transactionId: `txn-${input.orderId}` } });
  }
}

/**
 * `?wait=true` is pushed across instances: two orders instances on one database and a real nats-server with the
 * stack's users and permissions; the settle lands on the instance that does not hold the waiting request. The
 * safety-net re-read is set to a minute, so an answer within the test's deadline can only come from the push.
 */
describe('?wait=true woken by a settle on another orders instance', () => {
  const passwords = Object.fromEntries(NATS_USERS.map((u) => [u, `pw-${u}-0123456789`])) as Record<
    NatsUser,
    string
  >;
  const config = { ORDER_WAIT_TIMEOUT_MS: 90_000, ORDER_WAIT_RECHECK_MS: 60_000 } as OrdersConfig;
  const line = [{ sku: 'a', qty: 1 }];
  const orchestrator = new RecordingOrchestrator();
  let postgres: PostgresHandle;
  let nats: NatsHandle;
  let dataSource: DataSource;
  const holders: NatsConnectionHolder[] = [];
  const signals: SettlementSignal<OrderRow>[] = [];
  let a: OrdersService;
  let b: OrdersService;

  async function instance(): Promise<OrdersService> {
    const holder = new NatsConnectionHolder(nats.url, new ReadinessRegistry(), {
      user: 'orders',
      pass: passwords.orders,
      inboxPrefix: natsInboxPrefix('orders'),
    });
    await holder.onModuleInit();
    holders.push(holder);
    const signal = new SettlementSignal<OrderRow>(new NatsSettlementPeers(holder));
    signal.onApplicationBootstrap();
    signals.push(signal);
    return new OrdersService(
      new OrdersRepository(dataSource),
      orchestrator,
      signal,
      new OrderIds(),
      new ManualClock(),
      config,
    );
  }

  beforeAll(async () => {
    [postgres, nats] = await Promise.all([
      startPostgres({ databases: ['orders'] }),
      startNats({ users: natsUserConfigs(passwords) }),
    ]);
    dataSource = new DataSource({
      type: 'postgres',
      url: postgres.url('orders'),
      entities: [OrderEntity],
      migrations: ordersMigrations,
      poolSize: 6,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    a = await instance();
    b = await instance();
    // Both subscriptions are in place once each connection has made a round trip after subscribing.
    await waitFor(
      async () => {
        for (const holder of holders) await (await holder.get()).flush();
        return true;
      },
      { timeoutMs: 5_000, intervalMs: 20, description: 'subscriptions flushed' },
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all(signals.map((s) => s.onApplicationShutdown()));
    await Promise.all(holders.map((h) => h.onApplicationShutdown()));
    await dataSource?.destroy();
    await Promise.all([postgres?.stop(), nats?.stop()]);
  });

  it.each(['CONFIRMED', 'CANCELLED'] as const)(
    'answers %s within the push, not the re-check',
    async (status) => {
      const customerId = `c-push-${status}`;
      const startedMs = Date.now();
      const waiting = a.place({ customerId, items: line, mode: 'saga' }, { wait: true });
      const orderId = await waitFor(
        () => orchestrator.starts.find((s) => s.customerId === customerId)?.orderId,
        {
          timeoutMs: 5_000,
          intervalMs: 5,
          description: 'the order reaches the orchestrator',
        },
      );
      await waitFor(() => (signals[0]!.waiting > 0 ? true : undefined), {
        timeoutMs: 5_000,
        intervalMs: 5,
        description: 'instance A waits for the settle',
      });
      // The orchestrator's verdict lands on instance B.
      await b.settle(
        status === 'CONFIRMED'
          ? { orderId, status, totalCents: 990 }
          : { orderId, status, reason: 'out of stock: a' },
      );
      const placed = await waiting;
      expect(placed).toMatchObject({ orderId, status });
      // Far below ORDER_WAIT_RECHECK_MS (60 s): only the announcement can have woken it.
      expect(Date.now() - startedMs).toBeLessThan(10_000);
      expect(signals[0]!.waiting).toBe(0);
    },
  );

  it('a settle with nobody waiting is announced and costs the other instance nothing', async () => {
    const { orderId } = await a.place({ customerId: 'c-nobody', items: line, mode: 'saga' }, { wait: false });
    expect(await b.settle({ orderId, status: 'CONFIRMED', totalCents: 1 })).toEqual({
      ok: true,
      result: null,
    });
    expect(signals.map((s) => s.waiting)).toEqual([0, 0]);
  });
});
