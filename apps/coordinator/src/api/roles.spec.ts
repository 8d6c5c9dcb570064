/**
 * Who may do what (issue 14): each role's refusals (403) and acceptances, over the real HTTP API with a one-node
 * stand-in for consensus; the per-token watch cap; and forwarding to the leader built from path and query only.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { LocalConsensus, NotLeaderError } from '@concord/coordination';
import { type RunningApp, runApp } from '@concord/platform';
import { installLeanKvRoutes } from './kv-lean-route.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coordinatorConfigSchema } from '../config.js';
import { CoordinatorModule } from '../coordinator.module.js';
import type { ClusterAdmin } from './cluster-admin.js';
import { leaderUrl } from './coordinator-errors.filter.js';

const TOKENS = {
  admin: 'admin-token-0123456789abcdef',
  client: 'client-token-0123456789abcdef',
  reader: 'reader-token-0123456789abcdef',
  orders: 'orders-token-0123456789abcdef',
};
type Who = keyof typeof TOKENS;

const randomPort = () => 30_000 + Math.floor(Math.random() * 20_000);

function env(port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    NODE_ID: 'n1',
    PEERS: 'n1=127.0.0.1:1',
    API_URLS: `n1=http://127.0.0.1:${port}`,
    DATA_DIR: '/tmp/unused-by-local-consensus',
    CLUSTER_SECRET: 'cluster-secret-0123456789',
    ADMIN_TOKEN: TOKENS.admin,
    CLIENT_TOKEN: TOKENS.client,
    READ_TOKEN: TOKENS.reader,
    SERVICE_TOKENS: `orders=${TOKENS.orders}`,
    WATCHES_PER_TOKEN_MAX: '2',
    WATCH_BUFFERED_BYTES_MAX: String(64 * 1024),
    ...extra,
  };
}

const stubCluster: ClusterAdmin = {
  view: () => ({ id: 'n1', leader: 'n1', term: 1, commitIndex: 0, appliedIndex: 0, members: [] }),
  addLearner: async () => undefined,
  promote: async () => undefined,
  remove: async () => undefined,
};

async function start(
  port: number,
  extra: Record<string, string> = {},
  notLeader = false,
): Promise<RunningApp> {
  return runApp(
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
          if (notLeader) {
            // A follower whose leader is n2: every write is forwarded.
            consensus.propose = () => Promise.reject(new NotLeaderError('n2'));
            consensus.isLeader = () => false;
          }
          return {
            consensus,
            cluster: stubCluster,
            start: async () => undefined,
            stop: async () => undefined,
            ready: async () => undefined,
          };
        }),
    },
    env(port, extra),
  );
}

let app: RunningApp;

async function call(who: Who | 'nobody', method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (who !== 'nobody') headers.authorization = `Bearer ${TOKENS[who]}`;
  const response = await fetch(`${app.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text };
}

beforeAll(async () => {
  app = await start(randomPort());
});

afterAll(async () => {
  await app.close();
});

const put = (key: string) => ['PUT', `/v1/kv/${key}`, { value: 'x' }] as const;
const del = (key: string) => ['DELETE', `/v1/kv/${key}`] as const;
const get = (key: string) => ['GET', `/v1/kv/${key}`] as const;
const txnPut = (key: string) =>
  ['POST', '/v1/txn', { compare: [], success: [{ put: { key, value: 'x' } }], failure: [] }] as const;
const register = (service: string) =>
  ['PUT', `/v1/services/${service}/i1`, { url: 'http://127.0.0.1:1' }] as const;
const addMember = [
  'POST',
  '/v1/cluster/members',
  { id: 'n9', peerAddress: '127.0.0.1:1', apiUrl: 'http://x' },
] as const;

/** `ok`: 2xx; `allowed`: the guard let it through (the handler may still refuse the body, e.g. a missing lease). */
type Case = readonly [Who, readonly [string, string, unknown?], 'ok' | 'allowed' | 401 | 403];

const cases: Case[] = [
  // admin: everything
  ['admin', put('config/gateway/routes'), 'ok'],
  ['admin', register('payments'), 'allowed'],
  ['admin', addMember, 'ok'],
  ['admin', ['DELETE', '/v1/cluster/members/n9'], 'ok'],
  // client: KV outside config/ and services/, reads everywhere, no cluster changes
  ['client', put('jobs/1'), 'ok'],
  ['client', txnPut('jobs/2'), 'ok'],
  ['client', get('config/gateway/routes'), 'ok'],
  ['client', ['GET', '/v1/kv?prefix=config/'], 'ok'],
  ['client', ['GET', '/v1/cluster'], 'ok'],
  ['client', ['POST', '/v1/leases', { ttlSeconds: 10 }], 'ok'],
  ['client', ['POST', '/v1/locks/l1', { waitMs: 0 }], 'allowed'],
  ['client', put('config/gateway/routes'), 403],
  ['client', del('config/gateway/routes'), 403],
  ['client', txnPut('config/gateway/routes'), 403],
  ['client', put('services/orders/evil'), 403],
  ['client', register('orders'), 403],
  ['client', addMember, 403],
  ['client', ['POST', '/v1/cluster/members/n2/promote'], 403],
  ['client', ['DELETE', '/v1/cluster/members/n2'], 403],
  // reader (the gateway): reads everywhere, writes nothing
  ['reader', get('config/gateway/routes'), 'ok'],
  ['reader', ['GET', '/v1/services/orders'], 'ok'],
  ['reader', put('jobs/3'), 403],
  ['reader', txnPut('jobs/3'), 403],
  ['reader', ['POST', '/v1/leases', { ttlSeconds: 10 }], 403],
  ['reader', register('orders'), 403],
  ['reader', addMember, 403],
  // a service: its own registrations, leases, config reads
  ['orders', register('orders'), 'allowed'],
  ['orders', put('services/orders/i2'), 'ok'],
  ['orders', ['POST', '/v1/leases', { ttlSeconds: 10 }], 'ok'],
  ['orders', get('config/gateway/routes'), 'ok'],
  ['orders', ['GET', '/v1/kv?prefix=config/orders/'], 'ok'],
  ['orders', register('payments'), 403],
  ['orders', put('services/payments/i1'), 403],
  ['orders', put('services/orders'), 403],
  ['orders', put('config/orders/limit'), 403],
  ['orders', put('jobs/4'), 403],
  ['orders', get('jobs/1'), 403],
  ['orders', ['POST', '/v1/locks/l2', { waitMs: 0 }], 403],
  ['orders', ['POST', '/v1/elections/payments/campaign', { value: 'x' }], 403],
  ['orders', ['POST', '/v1/elections/orders/campaign', { value: 'x' }], 'allowed'],
  ['orders', ['POST', '/v1/locks/orders-sweeper', { waitMs: 0 }], 'allowed'],
  ['reader', ['POST', '/v1/locks/l3', { waitMs: 0 }], 403],
  ['reader', ['GET', '/v1/elections/orders'], 'allowed'],
  ['orders', addMember, 403],
  // no or unknown credential
  ['nobody' as Who, get('jobs/1'), 401],
];

describe('coordinator roles', () => {
  it.each(cases)('%s %j → %s', async (who, [method, path, body], expected) => {
    const answer = await call(who, method, path, body);
    if (expected === 'ok') expect(answer.status, answer.body).toBeLessThan(300);
    else if (expected === 'allowed') {
      expect(answer.status, answer.body).toBeLessThan(500);
      expect([401, 403], answer.body).not.toContain(answer.status);
    } else {
      expect(answer.status, answer.body).toBe(expected);
      expect(JSON.parse(answer.body)).toMatchObject({ status: expected });
    }
  });

  it('refuses the write without changing anything', async () => {
    await call('admin', ...put('config/orders/limit'));
    await call('client', 'PUT', '/v1/kv/config/orders/limit', { value: 'hacked' });
    expect(JSON.parse((await call('client', ...get('config/orders/limit'))).body)).toMatchObject({
      value: 'x',
    });
  });

  it('watches: the client token not on config/ or services/, the reader and services where allowed', async () => {
    const watch = async (who: Who, query: string) => {
      const controller = new AbortController();
      const response = await fetch(`${app.url}/v1/watch?${query}`, {
        headers: { authorization: `Bearer ${TOKENS[who]}` },
        signal: controller.signal,
      });
      const status = response.status;
      controller.abort();
      await response.body?.cancel().catch(() => undefined);
      return status;
    };
    expect(await watch('client', 'prefix=jobs/')).toBe(200);
    expect(await watch('client', 'prefix=config/')).toBe(403);
    expect(await watch('client', 'prefix=')).toBe(403);
    expect(await watch('client', 'key=services/orders/i1')).toBe(403);
    expect(await watch('reader', 'prefix=')).toBe(200);
    expect(await watch('orders', 'prefix=config/orders/')).toBe(200);
    expect(await watch('orders', 'prefix=services/')).toBe(403);
  });

  it('caps open watches per token (429 beyond WATCHES_PER_TOKEN_MAX), other tokens unaffected', async () => {
    const open: AbortController[] = [];
    const watch = async (who: Who) => {
      const controller = new AbortController();
      const response = await fetch(`${app.url}/v1/watch?prefix=jobs/`, {
        headers: { authorization: `Bearer ${TOKENS[who]}` },
        signal: controller.signal,
      });
      open.push(controller);
      return response.status;
    };
    try {
      expect(await watch('client')).toBe(200);
      expect(await watch('client')).toBe(200);
      expect(await watch('client')).toBe(429);
      expect(await watch('admin')).toBe(200);
    } finally {
      for (const c of open) c.abort();
    }
    // Closed watches give their slots back.
    await expect
      .poll(async () => {
        const s = await watch('client');
        open.at(-1)?.abort();
        return s;
      })
      .toBe(200);
  });
});

describe('slow watchers', () => {
  it('are cut off with a cancelled event naming the revision to resume from, not buffered without bound', async () => {
    const url = new URL(app.url);
    const socket = connect(Number(url.port), url.hostname);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(
      `GET /v1/watch?prefix=slow/ HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${TOKENS.admin}\r\n\r\n`,
    );
    // Read nothing while ~24 MiB of events are produced: far more than the kernel's socket buffers hold.
    socket.pause();
    await new Promise((r) => setTimeout(r, 200));
    const big = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 96; i++) {
      const answer = await call('admin', 'PUT', `/v1/kv/slow/${i % 4}`, { value: big });
      expect(answer.status).toBe(200);
    }
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
    });
    socket.resume();
    // The response ends (last chunk) after the cancelled event; the connection itself may stay open.
    await expect.poll(() => text.includes('\r\n0\r\n\r\n'), { timeout: 20_000 }).toBe(true);
    socket.destroy();
    expect(text.slice(-600)).toMatch(
      /event: cancelled\ndata: \{"type":"cancelled","reason":"slow watcher[^"]*","resumeFromRevision":\d+\}/,
    );
    // It was cut off before all 96 events were written.
    expect((text.match(/event: put/g) ?? []).length).toBeLessThan(96);
  });
});

describe('forwarding to the leader', () => {
  let follower: RunningApp;
  let leader: Server;
  let attacker: Server;
  const seen: { leader: string[]; attacker: string[] } = { leader: [], attacker: [] };
  const recorder = (into: string[]) => (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    into.push(`${req.method} ${req.url} ${req.headers.host}`);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"revision":1}');
  };
  const listen = (server: Server) =>
    new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
    );

  beforeAll(async () => {
    leader = createServer(recorder(seen.leader));
    attacker = createServer(recorder(seen.attacker));
    const leaderPort = await listen(leader);
    await listen(attacker);
    const port = randomPort();
    follower = await start(
      port,
      { API_URLS: `n1=http://127.0.0.1:${port},n2=http://127.0.0.1:${leaderPort}` },
      true,
    );
  });

  afterAll(async () => {
    await follower.close();
    leader.close();
    attacker.close();
  });

  /** Sends a raw request line, as an attacker can (fetch always sends origin form). */
  const raw = (target: string, body: string) =>
    new Promise<string>((resolve, reject) => {
      const url = new URL(follower.url);
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `PUT ${target} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${TOKENS.client}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      });
      let answer = '';
      socket.on('data', (d) => (answer += d.toString()));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
    });

  it('sends an absolute-form request to the leader, never to the host it names', async () => {
    const attackerPort = (attacker.address() as { port: number }).port;
    const answer = await raw(`http://127.0.0.1:${attackerPort}/v1/kv/x`, '{"value":"v"}');
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    expect(seen.attacker).toEqual([]);
    expect(seen.leader.at(-1)).toMatch(/^PUT \/v1\/kv\/x /);
  });

  it('builds the leader URL from path and query only', () => {
    expect(leaderUrl('http://evil.example/v1/kv/x?a=1', 'http://10.0.0.2:7001').href).toBe(
      'http://10.0.0.2:7001/v1/kv/x?a=1',
    );
    expect(leaderUrl('//evil.example/v1/kv/x', 'http://10.0.0.2:7001').host).toBe('10.0.0.2:7001');
    expect(leaderUrl('/a//evil.example/x', 'http://10.0.0.2:7001').host).toBe('10.0.0.2:7001');
    expect(leaderUrl('/\\evil.example/x', 'http://10.0.0.2:7001').host).toBe('10.0.0.2:7001');
    expect(leaderUrl('/v1/kv/a?b=1', 'http://10.0.0.2:7001').href).toBe('http://10.0.0.2:7001/v1/kv/a?b=1');
  });
});
