/**
 * NATS users and permissions as the stack runs them (libs/contracts/src/nats-permissions.ts): anonymous and
 * wrong-password connections are refused; each service may publish exactly the subjects it sends, subscribe
 * exactly to what is addressed to it and to its own inbox, and requests still get their replies.
 */
import { connect, type NatsConnection, PermissionViolationError } from '@nats-io/transport-node';
import {
  NATS_USERS,
  type NatsUser,
  natsInboxPrefix,
  natsUserConfigs,
  SUBJECT_SENDERS,
  type Subject,
} from '@concord/contracts';
import { type NatsHandle, startNats, waitFor } from '@concord/infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let nats: NatsHandle;
const passwords = Object.fromEntries(NATS_USERS.map((u) => [u, `pw-${u}-0123456789`])) as Record<
  NatsUser,
  string
>;
const open: NatsConnection[] = [];

async function as(user: NatsUser): Promise<{ nc: NatsConnection; violations: PermissionViolationError[] }> {
  const nc = await connect({
    servers: [nats.url],
    user,
    pass: passwords[user],
    inboxPrefix: natsInboxPrefix(user),
  });
  open.push(nc);
  const violations: PermissionViolationError[] = [];
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'error' && status.error instanceof PermissionViolationError)
        violations.push(status.error);
    }
  })();
  return { nc, violations };
}

beforeAll(async () => {
  nats = await startNats({ users: natsUserConfigs(passwords) });
});

afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close().catch(() => undefined)));
  await nats?.stop();
});

describe('NATS authentication', () => {
  it('refuses anonymous connections and wrong passwords', async () => {
    await expect(connect({ servers: [nats.url], reconnect: false })).rejects.toThrow(/authoriz/i);
    await expect(
      connect({ servers: [nats.url], user: 'payments', pass: 'wrong', reconnect: false }),
    ).rejects.toThrow(/authoriz/i);
  });
});

describe.each(NATS_USERS)('user %s', (user) => {
  it('may publish only the subjects it sends (every other one is a permission violation)', async () => {
    const { nc, violations } = await as(user);
    const subjects = Object.keys(SUBJECT_SENDERS) as Subject[];
    for (const subject of subjects) nc.publish(subject, 'x');
    const denied = subjects.filter((s) => !SUBJECT_SENDERS[s].includes(user));
    await nc.flush();
    await waitFor(() => (violations.length >= denied.length ? true : undefined), {
      timeoutMs: 5_000,
      intervalMs: 20,
      description: `${denied.length} publish violations for ${user}`,
    });
    expect(
      violations
        .filter((v) => v.operation === 'publish')
        .map((v) => v.subject)
        .sort(),
    ).toEqual(denied.sort());
  });

  it("may not subscribe to another service's subjects or inbox", async () => {
    const { nc } = await as(user);
    const other = NATS_USERS.find((u) => u !== user) ?? 'orders';
    for (const subject of [`${other}.>`, `${natsInboxPrefix(other)}.>`, '>', '_INBOX.>']) {
      const sub = nc.subscribe(subject);
      await expect(sub.closed, subject).resolves.toBeInstanceOf(PermissionViolationError);
    }
  });
});

describe('request and reply across permissions', () => {
  it('the orchestrator commands payments and gets the answer; orders cannot', async () => {
    const payments = await as('payments');
    const sub = payments.nc.subscribe('payments.hold', { queue: 'payments' });
    void (async () => {
      for await (const message of sub) message.respond('held');
    })();
    await payments.nc.flush();
    const orchestrator = await as('orchestrator');
    const reply = await orchestrator.nc.request('payments.hold', 'hold it', { timeout: 2_000 });
    expect(reply.string()).toBe('held');
    const orders = await as('orders');
    await expect(orders.nc.request('payments.hold', 'hold it', { timeout: 1_000 })).rejects.toThrow();
  });
});
