/**
 * NATS as a 3-node JetStream cluster under orders: every service and the orchestrator get all three seeds, the
 * lifecycle stream has 3 replicas, and one NATS server is SIGKILLed while orders are in flight. Clients fail over
 * to the other servers; every order settles (CONFIRMED), the domain invariants hold, and the stream still accepts
 * events from the outbox.
 */
import { connect } from '@nats-io/transport-node';
import { type NatsClusterHandle, waitFor, startNatsCluster } from '@concord/infra';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DomainApi } from '../domain/domain-api.js';
import { type DomainStack, startDomainStack } from '../domain/domain-stack.js';
import { checkInvariants, readSnapshot } from '../domain/invariants.js';

let stack: DomainStack | undefined;
let cluster: NatsClusterHandle | undefined;

beforeEach(({ onTestFailed }) => onTestFailed(() => stack?.processes.printLogs()));
afterAll(async () => {
  await stack?.stop();
  await cluster?.stop();
});

describe('a 3-node NATS cluster loses a node under orders', () => {
  it('settles every order', async () => {
    cluster = await startNatsCluster({ nodes: 3 });
    const nats = { NATS_URL: cluster.url };
    stack = await startDomainStack({
      env: {
        orders: nats,
        inventory: nats,
        payments: nats,
        orchestrator: { ...nats, OUTBOX_STREAM_REPLICAS: '3' },
      },
    });
    const running = stack;
    const api = new DomainApi(
      (service) => running.urls[service],
      (service) => running.token(service),
    );
    await api.createProduct('nc-widget', 100, 1_000);
    await api.openAccount('nc-customer', 1_000_000);
    const place = (i: number) =>
      api.placeOrder('nc-customer', [{ sku: 'nc-widget', qty: 1 }], i % 2 === 0 ? 'saga' : '2pc', false);
    const placed: string[] = [];
    for (let i = 0; i < 10; i++) placed.push((await place(i)).body.orderId);

    // Lose one server (its clients must reconnect elsewhere), while orders keep coming.
    const victim = cluster.nodes[0]!;
    victim.process.sigkill();
    for (let i = 10; i < 20; i++) placed.push((await place(i)).body.orderId);

    await waitFor(
      async () => {
        const statuses = await Promise.all(placed.map(async (id) => (await api.order(id)).status));
        return statuses.every((s) => s !== 'PENDING');
      },
      { timeoutMs: 90_000, intervalMs: 500, description: 'every order settled' },
    );
    const statuses = await Promise.all(placed.map(async (id) => (await api.order(id)).status));
    expect(statuses.filter((s) => s === 'CONFIRMED')).toHaveLength(placed.length);
    expect(checkInvariants(await readSnapshot(stack.databaseUrls))).toEqual([]);

    // The lifecycle stream lives on 3 replicas and kept accepting events with one server gone.
    const survivors = cluster.nodes.filter((n) => n !== victim).map((n) => n.url);
    const nc = await connect({ servers: survivors });
    // After losing a server the JetStream meta group and the stream's own group may take a few seconds to elect
    // new leaders; until then the outbox relay's publishes time out and it retries. Ask until the events are in.
    const info = await waitFor(
      async () => {
        const answer = (await nc.request('$JS.API.STREAM.INFO.SAGA_EVENTS', '', { timeout: 3_000 })).json<{
          config?: { num_replicas: number };
          state?: { messages: number };
        }>();
        return (answer.state?.messages ?? 0) > 0 ? answer : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, description: 'the stream holds the outbox events' },
    );
    if (info.config === undefined || info.state === undefined) throw new Error(JSON.stringify(info));
    expect(info.config.num_replicas).toBe(3);
    expect(info.state.messages).toBeGreaterThan(0);
    await nc.close();
  });
});
