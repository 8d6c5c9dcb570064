import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  startNats,
  startPostgres,
  waitFor,
  type NatsHandle,
  type PostgresHandle,
} from '@concord/infra';
import type { MessageMap } from '@concord/contracts';
import { generateInternalTokenKeyPair, runApp, type RunningApp } from '@concord/platform';
import { DataSource } from 'typeorm';
import {
  FencedError,
  natsCommandSender,
  orchestratorEntities,
  SagaLog,
  SAGA_EVENTS_STREAM,
  StaleVersionError,
} from '@concord/saga';
import { orchestratorApp } from '../../apps/orchestrator/src/orchestrator.app.js';
import { ToyParticipants } from './toy-participants.js';

/**
 * Medium tests: the orchestrator in this process, its log on a real PostgreSQL, commands over a real NATS, and
 * participants built on the real kit (see toy-participants.ts), with faults injected per subject.
 */
const apiToken = 'test-operator-token-0123456789abcdef';

describe('orchestrator on PostgreSQL and NATS', () => {
  let postgres: PostgresHandle;
  let nats: NatsHandle;
  let nc: NatsConnection;
  let toys: ToyParticipants;
  let app: RunningApp;
  let environment: Record<string, string>;

  async function startOrchestrator(): Promise<RunningApp> {
    return runApp({ ...orchestratorApp, handleSignals: false }, environment);
  }

  beforeAll(async () => {
    [postgres, nats] = await Promise.all([
      startPostgres({ databases: ['orchestrator', 'inventory', 'payments', 'orders'] }),
      startNats(),
    ]);
    nc = await connect({ servers: [nats.url] });
    toys = await ToyParticipants.open({
      inventory: postgres.url('inventory'),
      payments: postgres.url('payments'),
      orders: postgres.url('orders'),
    });
    toys.listen(nc);
    environment = {
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      DATABASE_URL: postgres.url('orchestrator'),
      NATS_URL: nats.url,
      OPERATOR_TOKEN: apiToken,
      INTERNAL_TOKEN_PUBLIC_KEY: generateInternalTokenKeyPair().publicKeyPem,
      SAGA_ATTEMPT_TIMEOUT_MS: '300',
      SAGA_STEP_DEADLINE_MS: '2000',
      SAGA_RETRIABLE_TIMEOUT_MS: '300',
      OUTBOX_RELAY_INTERVAL_MS: '50',
    };
    app = await startOrchestrator();
  });

  afterAll(async () => {
    await app?.close();
    await toys?.close();
    await nc?.drain();
    await nats?.stop();
    await postgres?.stop();
  });

  async function post(path: string, body: unknown, key: string | null = randomUUID(), token = apiToken) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (key !== null) headers['idempotency-key'] = key;
    if (token !== '') headers.authorization = `Bearer ${token}`;
    const response = await fetch(`${app.url}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function get(path: string) {
    const response = await fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${apiToken}` } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function settled(id: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    return waitFor(
      async () => {
        const { body } = await get(`/v1/sagas/${id}`);
        return ['completed', 'compensated', 'committed', 'aborted', 'failed'].includes(String(body.status))
          ? body
          : undefined;
      },
      { timeoutMs, intervalMs: 50, description: `instance ${id} finished` },
    );
  }

  let serial = 0;
  async function order(opts: { qty?: number; deposit?: number; stock?: number } = {}) {
    serial += 1;
    const sku = `sku-${serial}-${randomUUID().slice(0, 8)}`;
    const customerId = `c-${serial}-${randomUUID().slice(0, 8)}`;
    await toys.addProduct(sku, 250, opts.stock ?? 10);
    await toys.addAccount(customerId, opts.deposit ?? 10_000);
    return { orderId: `o-${randomUUID()}`, customerId, items: [{ sku, qty: opts.qty ?? 2 }] };
  }

  it('runs a saga to completion, with every effect applied once and the step history recorded', async () => {
    const input = await order();
    const started = await post('/v1/sagas/place-order', input);
    expect(started.status).toBe(202);
    const done = await settled(String(started.body.id));
    expect(done.status).toBe('completed');
    const steps = (done.steps as Array<{ key: string; status: string }>).map((s) => `${s.key}:${s.status}`);
    expect(steps).toEqual([
      'reserve-stock:succeeded',
      'hold-funds:succeeded',
      'commit-stock:succeeded',
      'capture-funds:succeeded',
      'confirm-order:succeeded',
    ]);
    expect(await toys.orderEffects(input.orderId)).toMatchObject({
      status: 'CONFIRMED',
      captures: 1,
      soldLines: 1,
    });
    expect(await toys.invariantViolations()).toEqual([]);
  });

  it('reports instances by status, leadership and fencing token in /metrics', async () => {
    const text = await (await fetch(`${app.url}/metrics`)).text();
    expect(text).toMatch(/^saga_instances\{status="completed"\} [1-9]\d*$/m);
    expect(text).toMatch(/^orchestrator_leader 1$/m);
    expect(text).toMatch(/^orchestrator_fencing_token [1-9]\d*$/m);
  });
  it('answers a repeated Idempotency-Key with the same saga, and a changed body with 422', async () => {
    const input = await order();
    const key = randomUUID();
    const first = await post('/v1/sagas/place-order', input, key);
    const again = await post('/v1/sagas/place-order', input, key);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    const changed = await post('/v1/sagas/place-order', { ...input, customerId: 'someone-else' }, key);
    expect(changed.status).toBe(422);
    await settled(String(first.body.id));
  });

  it('refuses bad requests with 4xx problem bodies', async () => {
    const input = await order();
    expect((await post('/v1/sagas/no-such-saga', input)).status).toBe(404);
    expect((await post('/v1/sagas/place-order', { ...input, items: [] })).status).toBe(400);
    expect((await post('/v1/sagas/place-order', { nonsense: true })).status).toBe(400);
    expect((await post('/v1/sagas/place-order', input, null)).status).toBe(400);
    expect((await post('/v1/sagas/place-order', input, randomUUID(), '')).status).toBe(401);
    expect((await post('/v1/sagas/place-order', input, randomUUID(), 'wrong-token-wrong-token')).status).toBe(
      401,
    );
    expect((await post('/v1/transactions', { input })).status).toBe(400);
    expect((await get('/v1/sagas?state=nonsense')).status).toBe(400);
    expect((await get(`/v1/sagas/${randomUUID()}`)).status).toBe(404);
    const problem = await post('/v1/sagas/place-order', { ...input, items: [{ sku: 'x', qty: -1 }] });
    expect(problem.body).toMatchObject({ status: 400, title: 'Bad Request' });
    expect(String(problem.body.detail)).toMatch(/items\.0\.qty/);
  });

  it('compensates in reverse order on insufficient funds and cancels the order with the reason', async () => {
    const input = await order({ deposit: 100 });
    const started = await post('/v1/sagas/place-order', input);
    const done = await settled(String(started.body.id));
    expect(done).toMatchObject({ status: 'compensated', reason: 'insufficient funds' });
    const keys = (done.steps as Array<{ key: string }>).map((s) => s.key);
    expect(keys).toEqual(['reserve-stock', 'hold-funds', 'compensate:reserve-stock', 'after:cancel-order']);
    expect(await toys.orderEffects(input.orderId)).toMatchObject({
      status: 'CANCELLED',
      reason: 'insufficient funds',
      captures: 0,
      soldLines: 0,
      heldLines: 0,
    });
    expect(await toys.invariantViolations()).toEqual([]);
  });

  it('re-sends lost commands with the same message id; duplicates apply once', async () => {
    toys.faults.set('payments.hold', { dropFirst: 2 });
    toys.faults.set('inventory.commit', { duplicate: true });
    try {
      const input = await order();
      const started = await post('/v1/sagas/place-order', input);
      const done = await settled(String(started.body.id));
      expect(done.status).toBe('completed');
      const hold = (done.steps as Array<{ key: string; attempts: number }>).find(
        (s) => s.key === 'hold-funds',
      );
      expect(hold?.attempts).toBe(3);
      expect(await toys.orderEffects(input.orderId)).toMatchObject({
        status: 'CONFIRMED',
        captures: 1,
        soldLines: 1,
      });
      expect(await toys.invariantViolations()).toEqual([]);
    } finally {
      toys.faults.clear();
    }
  });

  it('compensates a saga whose participant never answers, after the step deadline', async () => {
    toys.faults.set('payments.hold', { never: true });
    try {
      const input = await order();
      const started = await post('/v1/sagas/place-order', input);
      const done = await settled(String(started.body.id));
      expect(done.status).toBe('compensated');
      expect(String(done.reason)).toMatch(/hold-funds: no answer before the deadline/);
      const keys = (done.steps as Array<{ key: string; status: string }>).map((s) => `${s.key}:${s.status}`);
      expect(keys).toEqual([
        'reserve-stock:succeeded',
        'hold-funds:gave-up',
        'compensate:hold-funds:succeeded',
        'compensate:reserve-stock:succeeded',
        'after:cancel-order:succeeded',
      ]);
    } finally {
      toys.faults.clear();
    }
    expect(await toys.invariantViolations()).toEqual([]);
  });

  it('commits a two-phase transaction everywhere and leaves nothing prepared', async () => {
    const input = await order();
    const started = await post('/v1/transactions', { type: 'place-order', input });
    expect(started.status).toBe(202);
    const done = await settled(String(started.body.id));
    expect(done.status).toBe('committed');
    expect(await toys.orderEffects(input.orderId)).toMatchObject({
      status: 'CONFIRMED',
      captures: 1,
      soldLines: 1,
    });
    expect(await toys.invariantViolations()).toEqual([]);
  });

  it('aborts a two-phase transaction everywhere when a participant refuses to prepare', async () => {
    const input = await order({ deposit: 10 });
    const started = await post('/v1/transactions', { type: 'place-order', input });
    const done = await settled(String(started.body.id));
    expect(done).toMatchObject({ status: 'aborted', reason: 'insufficient funds' });
    expect(await toys.orderEffects(input.orderId)).toMatchObject({
      status: 'CANCELLED',
      captures: 0,
      soldLines: 0,
    });
    expect(await toys.invariantViolations()).toEqual([]);
  });

  it('starts over NATS with orchestrator.start, idempotently; answers decision queries with presumed abort', async () => {
    const send = natsCommandSender<MessageMap>(async () => nc);
    const input = await order();
    const message = {
      idempotencyKey: input.orderId,
      type: 'place-order' as const,
      mode: '2pc' as const,
      input,
    };
    const first = await send('orchestrator.start', message, 5_000);
    const again = await send('orchestrator.start', message, 5_000);
    expect(first.ok).toBe(true);
    expect(again).toEqual(first);
    const id = first.ok ? first.result.transactionId : '';
    await settled(id);
    expect(
      await send('orchestrator.2pc.decision', { gid: `inventory:${id}`, transactionId: id }, 5_000),
    ).toEqual({
      ok: true,
      result: { decision: 'commit' },
    });
    const unknown = randomUUID();
    expect(
      await send('orchestrator.2pc.decision', { gid: `inventory:${unknown}`, transactionId: unknown }, 5_000),
    ).toEqual({ ok: true, result: { decision: 'abort' } });
    const bad = await send(
      'orchestrator.start',
      { ...message, idempotencyKey: randomUUID(), type: 'nope' },
      5_000,
    );
    expect(bad.ok).toBe(false);
  });

  it('survives any payload on every subject it subscribes to, and keeps serving', async () => {
    const subjects = [
      'orchestrator.leader.start',
      'orchestrator.leader.decision',
      'orchestrator.start',
      'orchestrator.2pc.decision',
    ];
    const garbage = [
      'x',
      '',
      '{',
      'null',
      '[]',
      '42',
      '"text"',
      '{"pattern":1}',
      '{"data":{}}',
      'x'.repeat(100_000),
    ];
    for (const subject of subjects) {
      for (const payload of garbage) {
        // With no reply subject: dropped, with a warning.
        nc.publish(subject, payload);
        // With one: an answer (an error), never silence and never a crash.
        const answer = await nc.request(subject, payload, { timeout: 5_000 });
        expect(answer.string().length).toBeGreaterThan(0);
      }
    }
    for (const subject of subjects.slice(0, 2)) {
      const answer = await nc.request(subject, 'x', { timeout: 5_000 });
      expect(answer.json()).toEqual({ ok: false, reason: 'malformed message: not JSON' });
    }
    // Still serving, on the leader subject too.
    const input = await order();
    const direct = await nc.request(
      'orchestrator.leader.start',
      JSON.stringify({ idempotencyKey: input.orderId, type: 'place-order', mode: 'saga', input }),
      { timeout: 5_000 },
    );
    const started = direct.json<{ ok: boolean; result: { transactionId: string } }>();
    expect(started.ok).toBe(true);
    expect((await settled(started.result.transactionId)).status).toBe('completed');
  });

  it('a decision query before phase one ends decides abort durably, and the transaction aborts everywhere', async () => {
    toys.faults.set('payments.2pc.prepare', { never: true });
    try {
      const input = await order();
      const started = await post('/v1/transactions', { type: 'place-order', input });
      const id = String(started.body.id);
      await waitFor(
        async () => (await toys.inventory.query<unknown[]>('SELECT gid FROM pg_prepared_xacts')).length > 0,
        {
          timeoutMs: 5_000,
          intervalMs: 20,
          description: 'inventory prepared',
        },
      );
      const send = natsCommandSender<MessageMap>(async () => nc);
      const answer = await send(
        'orchestrator.2pc.decision',
        { gid: `inventory:${id}`, transactionId: id },
        5_000,
      );
      expect(answer).toEqual({ ok: true, result: { decision: 'abort' } });
      const done = await settled(id);
      expect(done.status).toBe('aborted');
    } finally {
      toys.faults.clear();
    }
    expect(await toys.invariantViolations()).toEqual([]);
  });

  it('resumes unfinished instances after a restart, with a newer fencing token', async () => {
    toys.faults.set('payments.capture', { never: true });
    const input = await order();
    const started = await post('/v1/sagas/place-order', input);
    const id = String(started.body.id);
    await waitFor(async () => ((await get(`/v1/sagas/${id}`)).body.steps as unknown[]).length >= 4, {
      timeoutMs: 10_000,
      intervalMs: 20,
      description: 'saga at capture',
    });
    const before = Number((await get(`/v1/sagas/${id}`)).body.fencingToken);
    await app.close();
    toys.faults.clear();
    app = await startOrchestrator();
    const done = await settled(id);
    expect(done.status).toBe('completed');
    expect(Number(done.fencingToken)).toBeGreaterThan(before);
    expect(await toys.orderEffects(input.orderId)).toMatchObject({ status: 'CONFIRMED', captures: 1 });
  });

  it('refuses a write carrying an older fencing token', async () => {
    const dataSource = new DataSource({
      type: 'postgres',
      url: postgres.url('orchestrator'),
      entities: orchestratorEntities,
    });
    await dataSource.initialize();
    try {
      const log = new SagaLog(dataSource);
      const { body } = await get('/v1/sagas?state=completed&limit=1');
      const [latest] = body.items as Array<{ id: string; version: number; fencingToken: number }>;
      expect(latest).toBeDefined();
      const stale = (latest?.fencingToken ?? 1) - 1;
      const instance = await log.find(latest?.id ?? '');
      await expect(
        log.transition(latest?.id ?? '', latest?.version ?? 0, instance!.state, undefined, [], stale),
      ).rejects.toBeInstanceOf(FencedError);
    } finally {
      await dataSource.destroy();
    }
  });

  it('group commit: concurrent transitions share statements, and each is still checked on its own', async () => {
    const dataSource = new DataSource({
      type: 'postgres',
      url: postgres.url('orchestrator'),
      entities: orchestratorEntities,
    });
    await dataSource.initialize();
    try {
      // One statement in flight: everything that arrives meanwhile goes together in the next one.
      const log = new SagaLog(dataSource, 1);
      const lead = await dataSource.query<Array<{ fencing_token: string }>>(
        'SELECT fencing_token FROM saga_leadership WHERE id = 1',
      );
      const token = Number(lead[0]?.fencing_token);
      const ids = Array.from({ length: 12 }, () => `group-${randomUUID()}`);
      for (const id of ids) {
        const state = { status: 'running' as const };
        const created = await log.create(
          { id, type: 'group-test', mode: 'saga', input: { id }, state, idempotencyKey: null },
          [],
          token,
          [{ key: 'a', step: 'a', subject: 'inventory.reserve', messageId: `${id}:a` }],
        );
        expect(created.kind).toBe('created');
      }
      const outcome = {
        key: 'a',
        status: 'succeeded' as const,
        reply: { ok: true as const, result: 1 },
        attempts: 1,
      };
      const event = (id: string) => ({
        eventId: `${id}:2:0`,
        subject: 'saga.events.group-test.done',
        payload: { id },
      });
      const writes = ids.map((id, i) =>
        log.transition(
          id,
          i === 3 ? 7 : 1, // a stale version
          { status: 'compensating' },
          outcome,
          [event(id)],
          i === 5 ? token - 1 : token, // an old token
          [{ key: 'b', step: 'b', subject: 'payments.hold', messageId: `${id}:b` }],
          i % 2 === 0,
        ),
      );
      const results = await Promise.allSettled(writes);
      results.forEach((result, i) => {
        if (i === 3)
          expect(result).toMatchObject({ status: 'rejected', reason: expect.any(StaleVersionError) });
        else if (i === 5 && token > 0)
          expect(result).toMatchObject({ status: 'rejected', reason: expect.any(FencedError) });
        else if (i !== 5) expect(result).toEqual({ status: 'fulfilled', value: 2 });
      });
      const steps = await log.steps(ids[0] ?? '');
      expect(steps.map((s) => [s.key, s.status])).toEqual([
        ['a', 'succeeded'],
        ['b', 'started'],
      ]);
      expect(await log.steps(ids[3] ?? '')).toHaveLength(1); // the refused write wrote nothing
      const outbox = await dataSource.query<Array<{ n: number }>>(
        'SELECT count(*)::int AS n FROM saga_outbox WHERE event_id = ANY($1)',
        [ids.map((id) => `${id}:2:0`)],
      );
      expect(outbox[0]?.n).toBe(token > 0 ? 10 : 11);
    } finally {
      await dataSource.destroy();
    }
  });

  it('publishes every lifecycle event to JetStream exactly once (outbox relay, Nats-Msg-Id)', async () => {
    const dataSource = new DataSource({ type: 'postgres', url: postgres.url('orchestrator') });
    await dataSource.initialize();
    try {
      const outboxCount = async () =>
        Number(
          (await dataSource.query<Array<{ n: number }>>('SELECT count(*)::int AS n FROM saga_outbox'))[0]?.n,
        );
      const info = await waitFor(
        async () => {
          const pending = await dataSource.query<unknown[]>(
            'SELECT 1 FROM saga_outbox WHERE published_at IS NULL',
          );
          if (pending.length > 0) return undefined;
          const reply = await nc.request(`$JS.API.STREAM.INFO.${SAGA_EVENTS_STREAM}`, '', { timeout: 2_000 });
          return reply.json<{ state: { messages: number } }>();
        },
        { timeoutMs: 10_000, intervalMs: 100, description: 'outbox drained' },
      );
      expect(info.state.messages).toBe(await outboxCount());
      // Publishing everything again (a relay that crashed before marking) adds nothing to the stream.
      await dataSource.query('UPDATE saga_outbox SET published_at = NULL');
      await waitFor(
        async () =>
          (await dataSource.query<unknown[]>('SELECT 1 FROM saga_outbox WHERE published_at IS NULL'))
            .length === 0,
        { timeoutMs: 10_000, intervalMs: 100, description: 'outbox re-drained' },
      );
      const again = await nc.request(`$JS.API.STREAM.INFO.${SAGA_EVENTS_STREAM}`, '', { timeout: 2_000 });
      expect(again.json<{ state: { messages: number } }>().state.messages).toBe(await outboxCount());
    } finally {
      await dataSource.destroy();
    }
  });
});
