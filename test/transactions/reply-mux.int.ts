import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NATS_USERS, type NatsUser, natsInboxPrefix, natsUserConfigs } from '@concord/contracts';
import { type NatsHandle, startNats } from '@concord/infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsCommandSender, NoRespondersError, ReplyMux, ReplyTimeoutError } from '@concord/saga';

/** The reply mux on a real nats-server with the stack's users and permissions (replies on the user's own inbox). */
describe('ReplyMux', () => {
  const passwords = Object.fromEntries(NATS_USERS.map((u) => [u, `pw-${u}-0123456789`])) as Record<
    NatsUser,
    string
  >;
  let nats: NatsHandle;
  const open: NatsConnection[] = [];
  const as = async (user: NatsUser): Promise<NatsConnection> => {
    const nc = await connect({
      servers: [nats.url],
      user,
      pass: passwords[user],
      inboxPrefix: natsInboxPrefix(user),
    });
    open.push(nc);
    return nc;
  };

  beforeAll(async () => {
    nats = await startNats({ users: natsUserConfigs(passwords) });
  });
  afterAll(async () => {
    await Promise.all(open.map((nc) => nc.close().catch(() => undefined)));
    await nats?.stop();
  });

  it('matches concurrent replies to their requests, answered out of order', async () => {
    const payments = await as('payments');
    const held: Array<() => void> = [];
    payments.subscribe('payments.hold', {
      queue: 'payments',
      callback: (_e, m) => {
        held.push(() => m.respond(`re:${m.string()}`));
        if (held.length === 20) for (const answer of held.reverse()) answer();
      },
    });
    await payments.flush();
    const orchestrator = await as('orchestrator');
    const mux = new ReplyMux();
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => mux.request(orchestrator, 'payments.hold', `m${i}`, 5_000)),
    );
    expect(replies.map((r) => r.string())).toEqual(Array.from({ length: 20 }, (_, i) => `re:m${i}`));
    expect(mux.inFlight).toBe(0);
  });

  it('fails a request with no responders at once, and one nobody answers at its deadline', async () => {
    const orchestrator = await as('orchestrator');
    const mux = new ReplyMux();
    await expect(mux.request(orchestrator, 'inventory.commit', 'x', 5_000)).rejects.toBeInstanceOf(
      NoRespondersError,
    );
    const inventory = await as('inventory');
    inventory.subscribe('inventory.release', { callback: () => undefined }); // never answers
    await inventory.flush();
    const started = Date.now();
    await expect(mux.request(orchestrator, 'inventory.release', 'x', 200)).rejects.toBeInstanceOf(
      ReplyTimeoutError,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(mux.inFlight).toBe(0);
  });

  it('follows a replaced connection', async () => {
    const inventory = await as('inventory');
    inventory.subscribe('inventory.reserve', {
      callback: (_e, m) => {
        m.respond(JSON.stringify({ response: 1 }));
      },
    });
    await inventory.flush();
    let current = await as('orchestrator');
    const send = natsCommandSender(async () => current);
    expect(await send('inventory.reserve', {}, 2_000)).toBe(1);
    await current.close();
    current = await as('orchestrator');
    expect(await send('inventory.reserve', {}, 2_000)).toBe(1);
  });
});
