/**
 * Discovery with real processes: a three-node coordinator cluster (dist/), the built gateway following its
 * registry, and small upstreams registered under leases. A new instance registers and receives only its share of
 * keys (every key that moves, moves to it); when every coordinator node dies, the gateway keeps routing with the
 * last membership it knew.
 */
import type { Server } from 'node:http';
import path from 'node:path';
import { CoordinationClient } from '@concord/coordination-client';
import { freePort, ProcessGroup, waitFor } from '@concord/infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN as COORDINATOR_ADMIN_TOKEN,
  type CoordinatorCluster,
  READ_TOKEN as COORDINATOR_READ_TOKEN,
  ROOT,
  startCoordinatorCluster,
} from '../coordinator/cluster.js';
import { startUpstream } from './fixtures/upstream.js';
import { ADMIN_TOKEN, JWT_SECRET, send } from './support.js';

const KEYS = Array.from({ length: 300 }, (_, i) => `key-${i}`);
const group = new ProcessGroup();
const servers: Server[] = [];
let cluster: CoordinatorCluster;
let client: CoordinationClient;
let base: string;

async function register(id: string): Promise<void> {
  const upstream = await startUpstream(id);
  servers.push(upstream.server);
  const lease = await client.grantLease(60);
  await client.register('orders', id, { url: upstream.url }, lease.id);
}

async function members(): Promise<string[]> {
  const answer = await send(base, 'GET', '/admin/rings', { authorization: `Bearer ${ADMIN_TOKEN}` });
  const view = answer.json<{ services: { service: string; instances: { id: string }[] }[] }>();
  return (view.services.find((s) => s.service === 'orders')?.instances ?? []).map((i) => i.id);
}

async function owners(): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (const key of KEYS) {
    const answer = await send(base, 'GET', '/api/orders/fast', { 'x-hash-key': key });
    expect(answer.status).toBe(200);
    result.set(key, String(answer.headers['x-upstream-instance']));
  }
  return result;
}

beforeAll(async () => {
  cluster = await startCoordinatorCluster(group);
  // The test plays the operator (registers instances of any service); the gateway reads with the read-only token.
  client = new CoordinationClient({ urls: cluster.urls, token: COORDINATOR_ADMIN_TOKEN });
  for (const id of ['orders-1', 'orders-2', 'orders-3']) await register(id);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  await group.start({
    name: 'gateway',
    command: process.execPath,
    args: ['--enable-source-maps', path.join(ROOT, 'dist/apps/gateway/src/main.js')],
    cwd: ROOT,
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      JWT_SECRET,
      ADMIN_TOKEN,
      COORDINATOR_URLS: cluster.urls.join(','),
      COORDINATOR_TOKEN: COORDINATOR_READ_TOKEN,
      ROUTES: JSON.stringify([{ prefix: '/api/orders', service: 'orders', public: true }]),
      HEALTH_PATH: '/health',
      MEMBERSHIP_MERGE_MS: '100',
    },
    ready: { url: `${base}/health/ready`, timeoutMs: 30_000 },
  });
});

afterAll(async () => {
  client.close();
  await group.stopAll(5_000);
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

describe('gateway discovery with a real coordinator cluster', () => {
  it('routes to the registered instances; a new one receives only its share of keys', async () => {
    await waitFor(async () => (await members()).length === 3, { timeoutMs: 10_000 });
    const before = await owners();
    await register('orders-4');
    await waitFor(async () => (await members()).includes('orders-4'), { timeoutMs: 10_000 });
    const after = await owners();
    const moved = KEYS.filter((k) => after.get(k) !== before.get(k));
    for (const key of moved) expect(after.get(key)).toBe('orders-4');
    expect(moved.length / KEYS.length).toBeGreaterThan(0.12);
    expect(moved.length / KEYS.length).toBeLessThan(0.4);
  });

  it('keeps routing with the last known membership when every coordinator node is gone', async () => {
    const before = await owners();
    for (const node of cluster.nodes) node.proc.sigkill();
    await Promise.all(cluster.nodes.map((node) => node.proc.waitForExit(10_000)));
    expect(await members()).toEqual(['orders-1', 'orders-2', 'orders-3', 'orders-4']);
    expect(await owners()).toEqual(before);
  });
});
