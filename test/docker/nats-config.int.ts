/**
 * docker/nats/nats-server.conf, the file compose gives every NATS node, run as it is with the real nats-server:
 * three nodes on loopback (the addresses and passwords through the environment, as compose passes them), routed to
 * each other with the route password; a server without it cannot join. Anonymous and wrong-password clients are
 * refused; each service user may publish exactly what it sends and subscribe only to what is addressed to it, on any
 * node; requests are answered across nodes, and the orchestrator creates its replicated stream.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection, PermissionViolationError } from '@nats-io/transport-node';
import { natsInboxPrefix, natsUserNames, SUBJECT_SENDERS, type Subject } from '@concord/contracts';
import { findNatsServer, freePort, type ProcessHandle, startProcess, waitFor } from '@concord/infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsPasswordVariable, natsRouteVariable } from '../../scripts/docker/nats-config.js';

const CONFIG = fileURLToPath(new URL('../../docker/nats/nats-server.conf', import.meta.url));
const USERS = natsUserNames();
const ROUTE_PASSWORD = 'routeSecret_0123456789';
const passwordOf = (user: string) => `pw${user}_0123456789`;

interface Node {
  name: string;
  client: number;
  route: number;
  monitor: number;
  process?: ProcessHandle;
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-nats-conf-'));
const nodes: Node[] = [];
const open: NatsConnection[] = [];
const started: ProcessHandle[] = [];

async function startNode(node: Node, routes: readonly Node[], routePassword: string): Promise<ProcessHandle> {
  const storeDir = path.join(root, node.name);
  fs.mkdirSync(storeDir, { recursive: true });
  const env: Record<string, string> = {
    NATS_CLUSTER_LISTEN: `127.0.0.1:${node.route}`,
    NATS_ROUTE_PASSWORD: routePassword,
  };
  routes.forEach((r, i) => {
    env[natsRouteVariable(i + 1)] = `nats://route:${routePassword}@127.0.0.1:${r.route}`;
  });
  for (const user of USERS) env[natsPasswordVariable(user)] = passwordOf(user);
  const handle = await startProcess({
    name: node.name,
    command: findNatsServer(),
    args: ['-c', CONFIG, '-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(node.client)].concat([
      '-m',
      String(node.monitor),
      '--server_name',
      node.name,
    ]),
    env,
    ready: { url: `http://127.0.0.1:${node.monitor}/varz`, timeoutMs: 20_000 },
  });
  started.push(handle);
  return handle;
}

async function routesOf(node: Node): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${node.monitor}/routez`);
  return ((await response.json()) as { num_routes: number }).num_routes;
}

async function as(user: string, node = nodes[0]) {
  const nc = await connect({
    servers: [`nats://127.0.0.1:${node?.client ?? 0}`],
    user,
    pass: passwordOf(user),
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
  for (let i = 1; i <= 3; i++) {
    nodes.push({
      name: `nats-${i}`,
      client: await freePort(),
      route: await freePort(),
      monitor: await freePort(),
    });
  }
  await Promise.all(nodes.map((node) => startNode(node, nodes, ROUTE_PASSWORD)));
  // Ready as compose's healthcheck means it: JetStream up and following the cluster's meta leader.
  for (const node of nodes) {
    await waitFor(
      async () =>
        (await fetch(`http://127.0.0.1:${node.monitor}/healthz?js-enabled-only=true`)).ok || undefined,
      { timeoutMs: 30_000, intervalMs: 100, description: `${node.name} healthy` },
    );
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close().catch(() => undefined)));
  await Promise.all(started.map((p) => p.stop()));
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the cluster of docker/nats/nats-server.conf', () => {
  it('routes every node to the other two, authenticated', async () => {
    for (const node of nodes) {
      await waitFor(async () => ((await routesOf(node)) === 2 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 100,
        description: `${node.name} routed to 2`,
      });
    }
  });

  it('keeps out a server that does not know the route password', async () => {
    const rogue: Node = {
      name: 'rogue',
      client: await freePort(),
      route: await freePort(),
      monitor: await freePort(),
    };
    const handle = await startNode(rogue, [...nodes, rogue], 'notTheRoutePassword_0123');
    try {
      await waitFor(async () => (/Authorization Violation/.test(handle.logs()) ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 100,
        description: 'the rogue refused',
      });
      expect(await routesOf(rogue)).toBe(0);
      for (const node of nodes) expect(await routesOf(node), node.name).toBe(2);
    } finally {
      await handle.stop();
    }
  });

  it('refuses anonymous clients and wrong passwords', async () => {
    const url = `nats://127.0.0.1:${nodes[0]?.client ?? 0}`;
    await expect(connect({ servers: [url], reconnect: false })).rejects.toThrow(/authoriz/i);
    await expect(
      connect({ servers: [url], user: 'payments', pass: 'wrong', reconnect: false }),
    ).rejects.toThrow(/authoriz/i);
  });
});

describe.each(USERS)('user %s, on the compose configuration', (user) => {
  it('may publish only the subjects it sends', async () => {
    const { nc, violations } = await as(user, nodes[1]);
    const subjects = Object.keys(SUBJECT_SENDERS) as Subject[];
    for (const subject of subjects) nc.publish(subject, 'x');
    const denied = subjects.filter((s) => !(SUBJECT_SENDERS[s] as readonly string[]).includes(user));
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
    const { nc } = await as(user, nodes[2]);
    const other = USERS.find((u) => u !== user) ?? 'orders';
    for (const subject of [`${other}.>`, `${natsInboxPrefix(other)}.>`, '>', '_INBOX.>']) {
      const sub = nc.subscribe(subject);
      await expect(sub.closed, subject).resolves.toBeInstanceOf(PermissionViolationError);
    }
  });
});

describe('messaging across the cluster', () => {
  it('the orchestrator on one node commands payments on another and gets the answer; orders cannot', async () => {
    const payments = await as('payments', nodes[2]);
    const sub = payments.nc.subscribe('payments.hold', { queue: 'payments' });
    void (async () => {
      for await (const message of sub) message.respond('held');
    })();
    await payments.nc.flush();
    const orchestrator = await as('orchestrator', nodes[0]);
    const reply = await waitFor(
      () => orchestrator.nc.request('payments.hold', 'hold it', { timeout: 1_000 }).catch(() => undefined),
      { timeoutMs: 10_000, intervalMs: 100, description: 'the subscription known on every node' },
    );
    expect(reply.string()).toBe('held');
    const orders = await as('orders', nodes[1]);
    await expect(orders.nc.request('payments.hold', 'hold it', { timeout: 1_000 })).rejects.toThrow();
  });

  it('the orchestrator creates its 3-replica stream and has its events acknowledged', async () => {
    const { nc } = await as('orchestrator', nodes[1]);
    // A cluster that has just formed may not have elected its JetStream meta leader yet: ask until it answers
    // (creating the same stream again is idempotent).
    const created = await waitFor(
      () =>
        nc
          .request(
            '$JS.API.STREAM.CREATE.SAGA_EVENTS',
            JSON.stringify({
              name: 'SAGA_EVENTS',
              subjects: ['saga.events.>'],
              num_replicas: 3,
              storage: 'file',
            }),
            { timeout: 2_000 },
          )
          // An error answer (no meta leader yet) is asked again too.
          .then((reply) => (reply.json<{ error?: unknown }>().error === undefined ? reply : undefined))
          .catch(() => undefined),
      { timeoutMs: 30_000, intervalMs: 200, description: 'JetStream to create the stream' },
    );
    expect(created.json<{ error?: unknown; config?: { num_replicas: number } }>()).toMatchObject({
      config: { num_replicas: 3 },
    });
    const ack = await nc.request('saga.events.probe', '{}', { timeout: 5_000 });
    expect(ack.json<{ stream?: string; seq?: number }>()).toMatchObject({ stream: 'SAGA_EVENTS', seq: 1 });
    // Nobody else may create streams or publish events.
    const orders = await as('orders', nodes[0]);
    orders.nc.publish('saga.events.forged', '{}');
    await orders.nc.flush();
    await waitFor(() => (orders.violations.length > 0 ? true : undefined), {
      timeoutMs: 5_000,
      intervalMs: 20,
      description: 'a publish violation for orders',
    });
  });
});
