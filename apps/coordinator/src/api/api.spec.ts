/**
 * The coordinator's REST API over a one-node stand-in for consensus: request validation, status codes, problem
 * bodies, auth, SSE watches, locks. Replication itself is proven by the Raft suites and the multi-process tests.
 */
import { LocalConsensus } from '@concord/coordination';
import { CoordinationClient, SharedConfig } from '@concord/coordination-client';
import { type RunningApp, runApp } from '@concord/platform';
import { installLeanKvRoutes } from './kv-lean-route.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coordinatorConfigSchema } from '../config.js';
import { CoordinatorModule } from '../coordinator.module.js';
import type { ClusterAdmin } from './cluster-admin.js';

const TOKEN = 'client-token-0123456789';
let app: RunningApp;
let base: string;

const auth = { authorization: `Bearer ${TOKEN}` };
const json = { ...auth, 'content-type': 'application/json' };

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = json) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    headers: response.headers,
  };
}

beforeAll(async () => {
  const port = 30_000 + Math.floor(Math.random() * 20_000);
  app = await runApp(
    {
      name: 'coordinator',
      configSchema: coordinatorConfigSchema,
      bodyLimitBytes: 2 * 1024 * 1024,
      handleSignals: false,
      // The hot routes as main.ts serves them (the Nest controller stays behind them).
      configure: (nest) => installLeanKvRoutes(nest),
      module: (config) =>
        CoordinatorModule.register(config, (_c, state) => {
          const consensus = new LocalConsensus(state.machine);
          const cluster: ClusterAdmin = {
            view: () => ({ id: 'n1', leader: 'n1', term: 1, commitIndex: 0, appliedIndex: 0, members: [] }),
            addLearner: async () => undefined,
            promote: async () => undefined,
            remove: async () => undefined,
          };
          return {
            consensus,
            cluster,
            start: async () => undefined,
            stop: async () => undefined,
            ready: async () => undefined,
          };
        }),
    },
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      NODE_ID: 'n1',
      PEERS: 'n1=127.0.0.1:1',
      API_URLS: `n1=http://127.0.0.1:${port}`,
      DATA_DIR: '/tmp/unused-by-local-consensus',
      CLUSTER_SECRET: 'cluster-secret-0123456789',
      // These tests exercise the API, not the roles (roles.spec.ts): they hold the admin token.
      ADMIN_TOKEN: TOKEN,
      CLIENT_TOKEN: 'general-client-token-0123456789',
    },
  );
  base = app.url;
});

afterAll(async () => {
  await app.close();
});

describe('coordinator API: keys', () => {
  it('puts, gets, lists and deletes with revisions', async () => {
    expect(await call('PUT', '/v1/kv/config/orders/limit', { value: '10' })).toMatchObject({
      status: 200,
      body: { revision: expect.any(Number) },
    });
    const got = await call('GET', '/v1/kv/config/orders/limit', undefined, auth);
    expect(got).toMatchObject({ status: 200, body: { key: 'config/orders/limit', value: '10', version: 1 } });
    const listed = await call('GET', '/v1/kv?prefix=config/&limit=10', undefined, auth);
    expect(listed.body).toMatchObject({ items: [{ key: 'config/orders/limit' }], more: false });
    expect((await call('DELETE', '/v1/kv/config/orders/limit', undefined, auth)).body).toMatchObject({
      deleted: 1,
    });
    expect((await call('GET', '/v1/kv/config/orders/limit', undefined, auth)).status).toBe(404);
  });

  it('answers 409 with the current modRevision when prevRevision does not match', async () => {
    const first = await call('PUT', '/v1/kv/cas', { value: 'a', prevRevision: 0 });
    expect(first.status).toBe(200);
    const conflict = await call('PUT', '/v1/kv/cas', { value: 'b', prevRevision: 0 });
    expect(conflict).toMatchObject({ status: 409, body: { modRevision: first.body.revision } });
  });

  it('runs a compare-and-swap transaction', async () => {
    await call('PUT', '/v1/kv/t', { value: '1' });
    const result = await call('POST', '/v1/txn', {
      compare: [{ key: 't', target: 'value', op: '=', value: '1' }],
      success: [{ put: { key: 't', value: '2' } }],
      failure: [{ get: { key: 't' } }],
    });
    expect(result).toMatchObject({ status: 200, body: { succeeded: true } });
  });

  it('refuses bad input with 4xx problem bodies and keeps serving', async () => {
    expect((await call('PUT', '/v1/kv/x', '{"value":', json)).status).toBe(400);
    expect(await call('PUT', '/v1/kv/x', { value: 5 })).toMatchObject({
      status: 400,
      body: { errors: [{ field: 'value' }] },
    });
    expect((await call('PUT', '/v1/kv/x', { value: 'v', extra: 1 })).status).toBe(400);
    expect((await call('PUT', `/v1/kv/${'k'.repeat(1025)}`, { value: 'v' })).status).toBe(413);
    expect((await call('PUT', '/v1/kv/big', { value: 'v'.repeat(1024 * 1024 + 1) })).status).toBe(413);
    expect((await call('PUT', '/v1/kv/x', { value: 'v', lease: '00000000000000ff' })).status).toBe(404);
    expect((await call('PUT', '/v1/kv/x', { value: 'v', lease: 'not-a-lease' })).status).toBe(400);
    expect((await call('GET', '/v1/kv?limit=0', undefined, auth)).status).toBe(400);
    expect(
      (await call('POST', '/v1/txn', { compare: [{ key: 'a', target: 'nope', op: '=', value: 1 }] })).status,
    ).toBe(400);
    expect((await call('POST', '/v1/leases', { ttlSeconds: -1 })).status).toBe(400);
    expect((await call('GET', '/v1/kv/a', undefined, {})).status).toBe(401);
    expect((await call('GET', '/v1/kv/a', undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
  });
});

describe('coordinator API: leases, locks, elections, registry', () => {
  it('grants, keeps alive, inspects and revokes a lease (its keys go with it)', async () => {
    const lease = await call('POST', '/v1/leases', { ttlSeconds: 30 });
    expect(lease).toMatchObject({
      status: 201,
      body: { id: expect.stringMatching(/^[0-9a-f]{16}$/), ttlSeconds: 30 },
    });
    const id = String(lease.body.id);
    await call('PUT', '/v1/services/orders/orders-1', { url: 'http://127.0.0.1:8101', zone: 'a', lease: id });
    expect((await call('POST', `/v1/leases/${id}/keepalive`)).body).toEqual({ id, ttlSeconds: 30 });
    expect((await call('GET', `/v1/leases/${id}`, undefined, auth)).body).toMatchObject({
      keys: ['services/orders/orders-1'],
    });
    const services = await call('GET', '/v1/services/orders', undefined, auth);
    expect(services.body).toMatchObject({
      instances: [{ id: 'orders-1', url: 'http://127.0.0.1:8101', zone: 'a', lease: id }],
    });
    expect((await call('DELETE', `/v1/leases/${id}`, undefined, auth)).body).toMatchObject({ deleted: 1 });
    expect((await call('GET', '/v1/services/orders', undefined, auth)).body).toMatchObject({ instances: [] });
    expect((await call('POST', `/v1/leases/${id}/keepalive`)).status).toBe(404);
  });

  it('serializes lock holders with increasing fencing tokens, and times out with 408', async () => {
    const a = String((await call('POST', '/v1/leases', { ttlSeconds: 30 })).body.id);
    const b = String((await call('POST', '/v1/leases', { ttlSeconds: 30 })).body.id);
    const held = await call('POST', '/v1/locks/printer', { lease: a });
    expect(held).toMatchObject({
      status: 200,
      body: { key: `locks/printer/${a}`, fencingToken: expect.any(Number) },
    });
    expect((await call('POST', '/v1/locks/printer', { lease: b, waitMs: 50 })).status).toBe(408);
    const waiting = call('POST', '/v1/locks/printer', { lease: b, waitMs: 5_000 });
    await call('DELETE', `/v1/locks/printer/${String(held.body.key)}`, undefined, auth);
    const next = await waiting;
    expect(next.status).toBe(200);
    expect(Number(next.body.fencingToken)).toBeGreaterThan(Number(held.body.fencingToken));
  });

  it('runs an election', async () => {
    const lease = String((await call('POST', '/v1/leases', { ttlSeconds: 30 })).body.id);
    const won = await call('POST', '/v1/elections/orchestrator/campaign', { lease, value: 'orchestrator-1' });
    expect(won).toMatchObject({
      status: 200,
      body: { key: `elections/orchestrator/${lease}`, term: expect.any(Number) },
    });
    expect((await call('GET', '/v1/elections/orchestrator', undefined, auth)).body).toMatchObject({
      value: 'orchestrator-1',
    });
    await call('POST', '/v1/elections/orchestrator/resign', { key: won.body.key });
    expect((await call('GET', '/v1/elections/orchestrator', undefined, auth)).status).toBe(404);
  });
});

describe('coordinator API: watch (SSE) and the client library', () => {
  it('streams changes and resumes from a revision with no gap or duplicate', async () => {
    const client = new CoordinationClient({ urls: [base], token: TOKEN });
    const start = await client.put('watched/a', '1');
    const seen: string[] = [];
    const watch = client.watch(
      { prefix: 'watched/' },
      { fromRevision: start.revision, onEvent: (e) => seen.push(`${e.type}:${e.kv.key}=${e.kv.value}`) },
    );
    await client.put('watched/b', '2');
    await client.delete('watched/a');
    const deadline = Date.now() + 5_000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    watch.stop();
    expect(seen).toEqual(['put:watched/a=1', 'put:watched/b=2', 'delete:watched/a=']);
  });

  it('answers a compacted start revision with 410 and the compaction revision', async () => {
    const response = await fetch(`${base}/v1/watch?key=x&fromRevision=0`, { headers: auth });
    expect(response.status).toBe(400);
    const noFilter = await fetch(`${base}/v1/watch`, { headers: auth });
    expect(noFilter.status).toBe(400);
  });

  it('gives the lock helper a fencing token and keeps the lease alive', async () => {
    const client = new CoordinationClient({ urls: [base], token: TOKEN });
    const lease = await client.grantLease(5);
    const lock = await client.lock('jobs', lease.id, 1_000);
    expect(lock.fencingToken).toBeGreaterThan(0);
    expect(await client.keepAlive(lease.id)).toBe(5);
    await client.unlock('jobs', lock.key);
    await client.revokeLease(lease.id);
    expect(await client.keepAlive(lease.id)).toBeNull();
  });

  it("stores a lock's holder as its key's value and refuses a holder name too long", async () => {
    const client = new CoordinationClient({ urls: [base], token: TOKEN });
    const lease = await client.grantLease(5);
    const lock = await client.lock('named-job', lease.id, 1_000, 'inventory-2');
    expect((await client.get(lock.key))?.value).toBe('inventory-2');
    const tooLong = await fetch(`${base}/v1/locks/named-job`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ lease: lease.id, holder: 'x'.repeat(257) }),
    });
    expect(tooLong.status).toBe(400);
    expect(await tooLong.text()).toContain('holder');
    await client.revokeLease(lease.id);
  });

  it('follows shared configuration by watch', async () => {
    const client = new CoordinationClient({ urls: [base], token: TOKEN });
    await client.put('config/orders/maxLinesPerOrder', '7');
    const shared = new SharedConfig(client, 'config/orders/');
    await shared.start();
    expect(shared.getNumber('maxLinesPerOrder', 50)).toBe(7);
    await client.put('config/orders/maxLinesPerOrder', '3');
    const deadline = Date.now() + 5_000;
    while (shared.getNumber('maxLinesPerOrder', 50) !== 3 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(shared.getNumber('maxLinesPerOrder', 50)).toBe(3);
    await client.delete('config/orders/maxLinesPerOrder');
    while (shared.getNumber('maxLinesPerOrder', 50) !== 50 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(shared.getNumber('maxLinesPerOrder', 50)).toBe(50);
    shared.stop();
    client.close();
  });
});
