import { LocalConsensus } from '@concord/coordination';
import { freePort } from '@concord/infra';
import { runApp, type RunningApp } from '@concord/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coordinatorConfigSchema } from '../config.js';
import { CoordinatorModule } from '../coordinator.module.js';

// The fault switch's route: mounted only with FAULT_INJECTION=true, behind the token, input validated.
// The fault switch is an admin route: the general client token is refused.
const TOKEN = 'admin-token-0123456789';
const blocked: string[][] = [];
const apps: RunningApp[] = [];

async function start(faultInjection: boolean): Promise<string> {
  // A port the kernel just handed out, not a random one: a random port can be another test's ephemeral port.
  const port = await freePort();
  let current: string[] = [];
  const app = await runApp(
    {
      name: 'coordinator',
      configSchema: coordinatorConfigSchema,
      bodyLimitBytes: 1024 * 1024,
      handleSignals: false,
      module: (config) =>
        CoordinatorModule.register(config, (_c, state) => ({
          consensus: new LocalConsensus(state.machine),
          cluster: {
            view: () => ({ id: 'n1', leader: 'n1', term: 1, commitIndex: 0, appliedIndex: 0, members: [] }),
            addLearner: async () => undefined,
            promote: async () => undefined,
            remove: async () => undefined,
          },
          faults: {
            setBlockedPeers: (ids) => {
              current = [...ids];
              blocked.push(current);
            },
            blockedPeers: () => current,
          },
          start: async () => undefined,
          stop: async () => undefined,
          ready: async () => undefined,
        })),
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
      ADMIN_TOKEN: TOKEN,
      CLIENT_TOKEN: 'general-client-token-0123456789',
      FAULT_INJECTION: String(faultInjection),
    },
  );
  apps.push(app);
  return app.url;
}

const put = (base: string, body: unknown, token = TOKEN) =>
  fetch(`${base}/admin/faults/partition`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

let on = '';
let off = '';
beforeAll(async () => {
  on = await start(true);
  off = await start(false);
});
afterAll(async () => {
  await Promise.all(apps.map((app) => app.close()));
});

describe('PUT /admin/faults/partition', () => {
  it('cuts off and heals with FAULT_INJECTION=true', async () => {
    const cut = await put(on, { peers: ['n2', 'n3'] });
    expect(cut.status).toBe(200);
    expect(await cut.json()).toEqual({ peers: ['n2', 'n3'] });
    const view = await fetch(`${on}/admin/faults/partition`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(await view.json()).toEqual({ peers: ['n2', 'n3'] });
    expect((await put(on, { peers: [] })).status).toBe(200);
    expect(blocked).toEqual([['n2', 'n3'], []]);
  });

  it('refuses a wrong token and a bad body, changing nothing', async () => {
    const before = blocked.length;
    expect((await put(on, { peers: ['n2'] }, 'wrong-token-0123456789')).status).toBe(401);
    expect((await put(on, { peers: 'n2' })).status).toBe(400);
    expect((await put(on, { peers: ['n2'], extra: 1 })).status).toBe(400);
    expect(blocked.length).toBe(before);
  });

  it('does not exist without FAULT_INJECTION', async () => {
    expect((await put(off, { peers: ['n2'] })).status).toBe(404);
  });
});
