import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  NATS_USERS,
  type NatsUser,
  natsInboxPrefix,
  natsUserConfigs,
  ORCHESTRATOR_LEADER_SUBJECTS,
  type StartTransaction,
} from '@concord/contracts';
import { type NatsHandle, startNats } from '@concord/infra';
import { NatsConnectionHolder, ReadinessRegistry } from '@concord/platform';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OrdersConfig } from './config.js';
import { NatsOrchestratorClient } from './orchestrator.client.js';

/**
 * The orders side of `orchestrator.start` on a real nats-server with the stack's users and permissions: the
 * start goes to the leader's own subject, falls back to the queue group when nobody leads, and takes a leader's
 * "send it again" for a failure to retry, never for a refusal (which would cancel the order).
 */
describe('NatsOrchestratorClient', () => {
  const passwords = Object.fromEntries(NATS_USERS.map((u) => [u, `pw-${u}-0123456789`])) as Record<
    NatsUser,
    string
  >;
  const input = { orderId: 'o-1', customerId: 'c-1', items: [{ sku: 'a', qty: 1 }] };
  let nats: NatsHandle;
  let holder: NatsConnectionHolder;
  let orchestrator: NatsConnection;
  let client: NatsOrchestratorClient;
  let subscriptions: Subscription[] = [];
  const received: { subject: string; message: StartTransaction }[] = [];

  /** Serves `subject` as the orchestrator: `answer` gets the start and the attempt number (from 1). */
  function serve(
    subject: string,
    answer: (message: StartTransaction, attempt: number) => unknown,
    nest = false,
  ) {
    let attempt = 0;
    subscriptions.push(
      orchestrator.subscribe(subject, {
        queue: nest ? 'orchestrator' : undefined,
        callback: (_error, msg) => {
          attempt += 1;
          const body = msg.json<{ id?: string; data?: StartTransaction } & StartTransaction>();
          const message = nest ? (body.data as StartTransaction) : body;
          received.push({ subject, message });
          const reply = answer(message, attempt);
          // Nest's wire format on the queue group subject, plain JSON on the leader's.
          msg.respond(JSON.stringify(nest ? { id: body.id, response: reply, isDisposed: true } : reply));
        },
      }),
    );
  }

  beforeAll(async () => {
    nats = await startNats({ users: natsUserConfigs(passwords) });
    holder = new NatsConnectionHolder(nats.url, new ReadinessRegistry(), {
      user: 'orders',
      pass: passwords.orders,
      inboxPrefix: natsInboxPrefix('orders'),
    });
    await holder.onModuleInit();
    orchestrator = await connect({
      servers: nats.url,
      user: 'orchestrator',
      pass: passwords.orchestrator,
      inboxPrefix: natsInboxPrefix('orchestrator'),
    });
    client = new NatsOrchestratorClient(holder, { ORCHESTRATOR_TIMEOUT_MS: 1_000 } as OrdersConfig);
  });

  afterAll(async () => {
    await orchestrator?.close();
    await holder?.onApplicationShutdown();
    await nats?.stop();
  });

  beforeEach(async () => {
    for (const subscription of subscriptions) subscription.unsubscribe();
    subscriptions = [];
    received.length = 0;
    await orchestrator.flush();
  });

  it("sends the start to the leader's subject, not through the queue group", async () => {
    serve(ORCHESTRATOR_LEADER_SUBJECTS.start, (m) => ({
      ok: true,
      result: { transactionId: `t-${m.idempotencyKey}` },
    }));
    serve('orchestrator.start', () => ({ ok: false, reason: 'should not be asked' }), true);
    await orchestrator.flush();
    expect(await client.start('saga', input)).toEqual({ ok: true, result: { transactionId: 't-o-1' } });
    expect(received).toEqual([
      {
        subject: ORCHESTRATOR_LEADER_SUBJECTS.start,
        message: { idempotencyKey: 'o-1', type: 'place-order', mode: 'saga', input },
      },
    ]);
  });

  it('goes through the queue group when nobody leads (no responders on the leader subject)', async () => {
    serve(
      'orchestrator.start',
      (m) => ({ ok: true, result: { transactionId: `q-${m.idempotencyKey}` } }),
      true,
    );
    await orchestrator.flush();
    expect(await client.start('2pc', input)).toEqual({ ok: true, result: { transactionId: 'q-o-1' } });
    expect(received.map((r) => r.subject)).toEqual(['orchestrator.start']);
    expect(received[0]?.message.mode).toBe('2pc');
  });

  it("retries a leader's 'send it again', and passes a refusal through unchanged", async () => {
    serve(ORCHESTRATOR_LEADER_SUBJECTS.start, (m, attempt) =>
      attempt === 1
        ? { ok: false, retry: true, reason: 'the orchestrator could not handle this message; send it again' }
        : m.mode === '2pc'
          ? { ok: false, reason: 'unknown workflow' }
          : { ok: true, result: { transactionId: `t-${m.idempotencyKey}` } },
    );
    await orchestrator.flush();
    expect(await client.start('saga', input)).toEqual({ ok: true, result: { transactionId: 't-o-1' } });
    expect(received).toHaveLength(2);
    expect(await client.start('2pc', input)).toEqual({ ok: false, reason: 'unknown workflow' });
    expect(received).toHaveLength(3);
  });

  it('fails (the order stays PENDING for the sweeper) when no orchestrator answers at all', async () => {
    await expect(client.start('saga', input)).rejects.toThrow(/no responders/);
  });
});
