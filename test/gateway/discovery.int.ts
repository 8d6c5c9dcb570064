/**
 * Discovery from the coordinator's registry, in this process: the coordinator's API over LocalConsensus (as
 * apps/coordinator/src/api/api.spec.ts does), small upstreams, and the gateway following `services/` and the
 * route key by watch. A new instance receives only its share of keys; routes change without a restart; when the
 * coordinator goes away the last known membership stays in use. Also: per-client rate limiting.
 */
import type { Server } from 'node:http';
import { LocalConsensus } from '@concord/coordination';
import { CoordinationClient } from '@concord/coordination-client';
import { waitFor } from '@concord/infra';
import { type RunningApp, runApp } from '@concord/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterAdmin } from '../../apps/coordinator/src/api/cluster-admin.js';
import { coordinatorConfigSchema } from '../../apps/coordinator/src/config.js';
import { CoordinatorModule } from '../../apps/coordinator/src/coordinator.module.js';
import { startUpstream } from './fixtures/upstream.js';
import { ADMIN_TOKEN, bearer, send, startGateway } from './support.js';

const CLIENT_TOKEN = 'client-token-0123456789';
/** The test plays the operator (registry and config/ writes): the coordinator's admin token. */
const COORDINATOR_ADMIN_TOKEN = 'coordinator-admin-token-0123456789';
/** The gateway holds only the read-only token. */
const COORDINATOR_READ_TOKEN = 'coordinator-read-token-0123456789';
const KEYS = Array.from({ length: 400 }, (_, i) => `key-${i}`);
let coordinator: RunningApp | undefined;
let gateway: RunningApp;
let client: CoordinationClient;
const upstreams = new Map<string, { server: Server; url: string }>();

async function startCoordinator(): Promise<RunningApp> {
  const port = 30_000 + Math.floor(Math.random() * 20_000);
  return runApp(
    {
      name: 'coordinator',
      configSchema: coordinatorConfigSchema,
      handleSignals: false,
      module: (config) =>
        CoordinatorModule.register(config, (_c, state) => {
          const cluster: ClusterAdmin = {
            view: () => ({ id: 'n1', leader: 'n1', term: 1, commitIndex: 0, appliedIndex: 0, members: [] }),
            addLearner: async () => undefined,
            promote: async () => undefined,
            remove: async () => undefined,
          };
          return {
            consensus: new LocalConsensus(state.machine),
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
      CLIENT_TOKEN,
      ADMIN_TOKEN: COORDINATOR_ADMIN_TOKEN,
      READ_TOKEN: COORDINATOR_READ_TOKEN,
    },
  );
}

async function register(id: string): Promise<void> {
  let upstream = upstreams.get(id);
  if (!upstream) {
    upstream = await startUpstream(id);
    upstreams.set(id, upstream);
  }
  const lease = await client.grantLease(60);
  await client.register('orders', id, { url: upstream.url }, lease.id);
}

async function members(): Promise<string[]> {
  const answer = await send(gateway.url, 'GET', '/admin/rings', { authorization: `Bearer ${ADMIN_TOKEN}` });
  const view = answer.json<{ services: { service: string; instances: { id: string }[] }[] }>();
  return (view.services.find((s) => s.service === 'orders')?.instances ?? []).map((i) => i.id);
}

async function owners(): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (const key of KEYS) {
    const answer = await send(gateway.url, 'GET', '/api/orders/fast', { ...bearer(), 'x-hash-key': key });
    expect(answer.status, answer.body.toString()).toBe(200);
    result.set(key, String(answer.headers['x-upstream-instance']));
  }
  return result;
}

beforeAll(async () => {
  coordinator = await startCoordinator();
  client = new CoordinationClient({ urls: [coordinator.url], token: COORDINATOR_ADMIN_TOKEN, attempts: 2 });
  for (const id of ['orders-1', 'orders-2', 'orders-3']) await register(id);
  gateway = await startGateway({
    COORDINATOR_URLS: coordinator.url,
    COORDINATOR_TOKEN: COORDINATOR_READ_TOKEN,
    MEMBERSHIP_MERGE_MS: '100',
    HEALTH_PATH: '/health',
  });
});

afterAll(async () => {
  client.close();
  await gateway.close();
  await coordinator?.close();
  for (const { server } of upstreams.values()) {
    server.closeAllConnections();
    server.close();
  }
});

describe('gateway discovery from the coordinator registry', () => {
  it('lists the registered instances at start', async () => {
    expect(await members()).toEqual(['orders-1', 'orders-2', 'orders-3']);
  });

  it('gives a new instance only its share of keys, taken from the others, and gives them back when it leaves', async () => {
    const before = await owners();
    await register('orders-4');
    await waitFor(async () => (await members()).includes('orders-4'), { timeoutMs: 5_000 });
    const withNew = await owners();
    const moved = KEYS.filter((k) => withNew.get(k) !== before.get(k));
    for (const key of moved) expect(withNew.get(key)).toBe('orders-4');
    expect(moved.length / KEYS.length).toBeGreaterThan(0.12);
    expect(moved.length / KEYS.length).toBeLessThan(0.4);

    await client.deregister('orders', 'orders-4');
    await waitFor(async () => !(await members()).includes('orders-4'), { timeoutMs: 5_000 });
    expect(await owners()).toEqual(before);
  });

  it('replaces the route table from the coordinator key, and falls back to configuration when it is deleted', async () => {
    expect((await send(gateway.url, 'GET', '/shop/fast')).status).toBe(404);
    await client.put(
      'config/gateway/routes',
      JSON.stringify([{ prefix: '/shop', service: 'orders', public: true }]),
    );
    await waitFor(async () => (await send(gateway.url, 'GET', '/shop/fast')).status === 200, {
      timeoutMs: 5_000,
    });
    // An invalid value is ignored: the last good table stays.
    await client.put('config/gateway/routes', '[{"prefix":"nope"}]');
    await client.put('config/flush-marker', 'x');
    expect((await send(gateway.url, 'GET', '/shop/fast')).status).toBe(200);
    await client.delete('config/gateway/routes');
    await waitFor(async () => (await send(gateway.url, 'GET', '/shop/fast')).status === 404, {
      timeoutMs: 5_000,
    });
    expect((await send(gateway.url, 'GET', '/api/orders/fast', bearer())).status).toBe(200);
  });

  it('keeps the last known membership when the coordinator is unreachable', async () => {
    const before = await owners();
    // The gateway's watch streams never end by themselves: cut them, as a crash would.
    const stopping = coordinator!.close();
    (coordinator!.app.getHttpServer() as Server).closeAllConnections();
    await stopping;
    coordinator = undefined;
    expect(await members()).toEqual(['orders-1', 'orders-2', 'orders-3']);
    expect(await owners()).toEqual(before);
  });
});

describe('gateway rate limiting', () => {
  it('answers 429 with Retry-After past a client burst, per client', async () => {
    const upstream = await startUpstream('solo');
    const limited = await startGateway({
      STATIC_UPSTREAMS: `solo=solo@${upstream.url}`,
      RATE_LIMIT_PER_SECOND: '1',
      RATE_LIMIT_BURST: '5',
      HEALTH_INTERVAL_MS: '0',
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++)
        statuses.push((await send(limited.url, 'GET', '/api/solo/fast', bearer('greedy'))).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const refused = await send(limited.url, 'GET', '/api/solo/fast', bearer('greedy'));
      expect(refused.headers['retry-after']).toBe('1');
      expect(refused.json()).toMatchObject({ status: 429 });
      expect((await send(limited.url, 'GET', '/api/solo/fast', bearer('patient'))).status).toBe(200);
    } finally {
      await limited.close();
      upstream.server.closeAllConnections();
      upstream.server.close();
    }
  });
});
