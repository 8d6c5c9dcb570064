import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandEnvelope, ReplyOf } from '@concord/contracts';
import { startPostgres, type PostgresHandle } from '@concord/infra';
import { ManualClock, Metrics } from '@concord/platform';
import {
  makeGid,
  Participant,
  ParticipantDispatcher,
  participantEntities,
  participantMigrations,
} from '@concord/saga';
import type { PaymentsConfig } from './config.js';
import type { AccountView } from './funds.js';
import { paymentsMigrations } from './migrations/1767300000000-payments-schema.js';
import { PAYMENTS_SUBJECTS, PaymentsCommands } from './payments.commands.js';
import { paymentsEntities } from './payments.module.js';
import { PaymentsRepository } from './payments.repository.js';
import { PaymentsService } from './payments.service.js';
import { AccountCache } from './read-cache.js';

/** Medium tests: the payments service, its repository and the participant kit on a real PostgreSQL. */
/** The handler table driven through the skeleton's dispatcher (parse, kit, after-commit), as NATS drives it. */
function commandsOf(dispatcher: ParticipantDispatcher) {
  const call =
    <S extends (typeof PAYMENTS_SUBJECTS)[number]>(subject: S) =>
    (env: unknown) =>
      dispatcher.dispatch(subject, env) as Promise<ReplyOf<S>>;
  return {
    hold: call('payments.hold'),
    release: call('payments.release'),
    capture: call('payments.capture'),
    prepare: call('payments.2pc.prepare'),
    commitPrepared: call('payments.2pc.commit'),
    abortPrepared: call('payments.2pc.abort'),
  };
}

describe('payments on PostgreSQL', () => {
  let server: PostgresHandle;
  let dataSource: DataSource;
  let payments: PaymentsService;
  let commands: ReturnType<typeof commandsOf>;
  const config = { CACHE_MAX_ENTRIES: 100, CACHE_TTL_MS: 60_000 } as PaymentsConfig;

  beforeAll(async () => {
    server = await startPostgres({ databases: ['payments'] });
    dataSource = new DataSource({
      type: 'postgres',
      url: server.url('payments'),
      entities: [...paymentsEntities, ...participantEntities],
      migrations: [...paymentsMigrations, ...participantMigrations],
      poolSize: 12,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    const clock = new ManualClock();
    const cache = new AccountCache(config, clock, new Metrics());
    payments = new PaymentsService(new PaymentsRepository(dataSource), cache);
    const participant = new Participant(dataSource, { service: 'payments' });
    commands = commandsOf(new ParticipantDispatcher(participant, new PaymentsCommands(payments), clock));
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await server?.stop();
  });

  function envelope<P>(step: string, payload: P, transactionId: string = randomUUID()): CommandEnvelope<P> {
    return { messageId: randomUUID(), transactionId, step, payload };
  }

  async function account(customerId: string, depositCents: number): Promise<void> {
    await payments.openAccount(customerId);
    if (depositCents > 0) await payments.deposit(customerId, depositCents);
  }

  async function counters(customerId: string): Promise<Omit<AccountView, 'customerId'>> {
    const [row] = await dataSource.query<Array<Omit<AccountView, 'customerId'>>>(
      `SELECT balance_cents::float8 AS "balanceCents", held_cents::float8 AS "heldCents",
              captured_cents::float8 AS "capturedCents", deposited_cents::float8 AS "depositedCents"
       FROM accounts WHERE customer_id = $1`,
      [customerId],
    );
    if (row === undefined) throw new Error(`no account ${customerId}`);
    return row;
  }

  it('opens an account once, takes deposits, and refuses them for an unknown account', async () => {
    await account('c-open', 500);
    await expect(payments.openAccount('c-open')).rejects.toMatchObject({ status: 409 });
    await payments.deposit('c-open', 250);
    expect(await counters('c-open')).toEqual({
      balanceCents: 750,
      heldCents: 0,
      capturedCents: 0,
      depositedCents: 750,
    });
    await expect(payments.deposit('c-none', 1)).rejects.toMatchObject({ status: 404 });
  });

  it('holds, then captures; every change is in the ledger with the counters after it', async () => {
    await account('c-hold', 1_000);
    const orderId = randomUUID();
    const txn = randomUUID();
    const held = await commands.hold(
      envelope('hold-funds', { orderId, customerId: 'c-hold', amountCents: 300 }, txn),
    );
    expect(held.ok).toBe(true);
    expect(await counters('c-hold')).toEqual({
      balanceCents: 700,
      heldCents: 300,
      capturedCents: 0,
      depositedCents: 1_000,
    });
    expect(await commands.capture(envelope('capture-funds', { orderId }, txn))).toEqual({
      ok: true,
      result: null,
    });
    // A re-sent capture with a new message id is still a single capture.
    expect((await commands.capture(envelope('capture-funds', { orderId }, randomUUID()))).ok).toBe(true);
    expect(await counters('c-hold')).toEqual({
      balanceCents: 700,
      heldCents: 0,
      capturedCents: 300,
      depositedCents: 1_000,
    });
    const ledger = await payments.listLedger('c-hold', undefined, 10);
    expect(ledger.items.map((e) => [e.kind, e.amountCents, e.balanceAfterCents, e.heldAfterCents])).toEqual([
      ['deposit', 1_000, 1_000, 0],
      ['hold', 300, 700, 300],
      ['capture', 300, 700, 0],
    ]);
  });

  it('answers a hold for the same order in another transaction with the first hold; a released hold is not captured', async () => {
    await account('c-again', 1_000);
    const orderId = randomUUID();
    const txn = randomUUID();
    const hold = { orderId, customerId: 'c-again', amountCents: 400 };
    const first = await commands.hold(envelope('hold-funds', hold, txn));
    const again = await commands.hold(envelope('hold-funds', hold, randomUUID()));
    expect(first.ok).toBe(true);
    expect(again).toEqual(first);
    expect(await commands.release(envelope('release-funds', { orderId }, txn))).toEqual({
      ok: true,
      result: null,
    });
    const capture = await commands.capture(envelope('capture-funds', { orderId }, randomUUID()));
    expect(capture.ok).toBe(false);
    expect(await counters('c-again')).toEqual({
      balanceCents: 1_000,
      heldCents: 0,
      capturedCents: 0,
      depositedCents: 1_000,
    });
    const ledger = await payments.listLedger('c-again', undefined, 10);
    expect(ledger.items.map((e) => [e.kind, e.amountCents, e.balanceAfterCents, e.heldAfterCents])).toEqual([
      ['deposit', 1_000, 1_000, 0],
      ['hold', 400, 600, 400],
      ['release', 400, 1_000, 0],
    ]);
  });

  it('pages through the ledger with a cursor', async () => {
    await account('c-page', 1);
    for (let i = 0; i < 4; i += 1) await payments.deposit('c-page', 1);
    const first = await payments.listLedger('c-page', undefined, 3);
    expect(first.items).toHaveLength(3);
    const second = await payments.listLedger('c-page', first.nextCursor, 3);
    expect(second.items).toHaveLength(2);
    expect(second.nextCursor).toBeUndefined();
    await expect(payments.listLedger('c-page', 'garbage!', 3)).rejects.toMatchObject({ status: 400 });
  });

  it('refuses insufficient funds and unknown accounts, changing nothing', async () => {
    await account('c-poor', 100);
    const poor = await commands.hold(
      envelope('hold-funds', {
        orderId: randomUUID(),
        customerId: 'c-poor',
        amountCents: 101,
      }),
    );
    expect(poor).toEqual({
      ok: false,
      reason: 'insufficient funds: account c-poor has 100 cents, order needs 101',
    });
    const unknown = await commands.hold(
      envelope('hold-funds', {
        orderId: randomUUID(),
        customerId: 'c-nobody',
        amountCents: 1,
      }),
    );
    expect(unknown).toEqual({ ok: false, reason: 'unknown account c-nobody' });
    expect(await counters('c-poor')).toEqual({
      balanceCents: 100,
      heldCents: 0,
      capturedCents: 0,
      depositedCents: 100,
    });
    const [holds] = await dataSource.query<[{ n: number }]>(
      `SELECT count(*)::int AS n FROM holds WHERE customer_id = 'c-poor'`,
    );
    expect(holds.n).toBe(0);
  });

  it('releases a hold on compensation; a hold arriving after its compensation is refused', async () => {
    await account('c-rel', 500);
    const orderId = randomUUID();
    const txn = randomUUID();
    await commands.hold(envelope('hold-funds', { orderId, customerId: 'c-rel', amountCents: 200 }, txn));
    expect(await commands.release(envelope('release-funds', { orderId }, txn))).toEqual({
      ok: true,
      result: null,
    });
    expect(await counters('c-rel')).toEqual({
      balanceCents: 500,
      heldCents: 0,
      capturedCents: 0,
      depositedCents: 500,
    });

    const lateOrder = randomUUID();
    const lateTxn = randomUUID();
    await commands.release(envelope('release-funds', { orderId: lateOrder }, lateTxn));
    const late = await commands.hold(
      envelope('hold-funds', { orderId: lateOrder, customerId: 'c-rel', amountCents: 100 }, lateTxn),
    );
    expect(late.ok).toBe(false);
    expect(await counters('c-rel')).toEqual({
      balanceCents: 500,
      heldCents: 0,
      capturedCents: 0,
      depositedCents: 500,
    });
  });

  it('never lets the balance go negative under concurrent holds', async () => {
    await account('c-race', 500);
    const replies = await Promise.all(
      Array.from({ length: 12 }, () =>
        commands.hold(
          envelope('hold-funds', {
            orderId: randomUUID(),
            customerId: 'c-race',
            amountCents: 100,
          }),
        ),
      ),
    );
    expect(replies.filter((r) => r.ok)).toHaveLength(5);
    expect(await counters('c-race')).toEqual({
      balanceCents: 0,
      heldCents: 500,
      capturedCents: 0,
      depositedCents: 500,
    });
  });

  it('refuses at the database a change that would break a counter invariant', async () => {
    await account('c-check', 10);
    await expect(
      dataSource.query(
        `UPDATE accounts SET balance_cents = balance_cents - 11 WHERE customer_id = 'c-check'`,
      ),
    ).rejects.toThrow();
    await expect(
      dataSource.query(
        `UPDATE accounts SET captured_cents = captured_cents + 1 WHERE customer_id = 'c-check'`,
      ),
    ).rejects.toThrow(/accounts_counters_balance/);
  });

  it('2PC: a prepared charge is invisible until committed; an aborted one leaves nothing', async () => {
    await account('c-2pc', 1_000);
    const run = async (decision: 'commit' | 'abort') => {
      const txn = randomUUID();
      const gid = makeGid('payments', txn);
      const prepared = await commands.prepare(
        envelope(
          'prepare-funds',
          {
            gid,
            operation: { orderId: randomUUID(), customerId: 'c-2pc', amountCents: 400 },
          },
          txn,
        ),
      );
      expect(prepared.ok).toBe(true);
      const decide = envelope(decision, { gid }, txn);
      const reply =
        decision === 'commit' ? await commands.commitPrepared(decide) : await commands.abortPrepared(decide);
      expect(reply).toEqual({ ok: true, result: null });
    };
    await run('commit');
    expect(await counters('c-2pc')).toEqual({
      balanceCents: 600,
      heldCents: 0,
      capturedCents: 400,
      depositedCents: 1_000,
    });
    await run('abort');
    expect(await counters('c-2pc')).toEqual({
      balanceCents: 600,
      heldCents: 0,
      capturedCents: 400,
      depositedCents: 1_000,
    });
    const refused = await commands.prepare(
      envelope('prepare-funds', {
        gid: makeGid('payments', randomUUID()),
        operation: { orderId: randomUUID(), customerId: 'c-2pc', amountCents: 601 },
      }),
    );
    expect(refused.ok).toBe(false);
    const [prepared] = await dataSource.query<[{ n: number }]>(
      'SELECT count(*)::int AS n FROM pg_prepared_xacts',
    );
    expect(prepared.n).toBe(0);
  });
});
