/**
 * Proxy correctness with the gateway and small upstreams in this process: every method, headers both ways,
 * query strings, large streamed bodies, upstream errors and timeouts, affinity, authentication, limits and bad
 * input. Failover with real processes is in failover.int.ts; discovery in discovery.int.ts.
 */
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import type { RunningApp } from '@concord/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EchoBody, startUpstream } from './fixtures/upstream.js';
import { jwtVerify } from 'jose';
import { ADMIN_TOKEN, bearer, INTERNAL_KEYS, send, startGateway } from './support.js';

let gateway: RunningApp;
let base: string;
const servers: Server[] = [];

const ROUTES = [
  { prefix: '/api/orders', service: 'orders' },
  { prefix: '/api/errors', service: 'errors', maxAttempts: 3 },
  { prefix: '/public/orders', service: 'orders', public: true, hashKey: { query: 'key' } },
  { prefix: '/admin-only', service: 'orders', scopes: ['admin'] },
  { prefix: '/api/ghost', service: 'ghost', public: true },
];

beforeAll(async () => {
  const upstream = async (id: string) => {
    const started = await startUpstream(id);
    servers.push(started.server);
    return `${id}@${started.url}`;
  };
  const orders = await Promise.all(['orders-1', 'orders-2', 'orders-3'].map(upstream));
  const errors = await Promise.all(['errors-1', 'errors-2'].map(upstream));
  gateway = await startGateway({
    STATIC_UPSTREAMS: `orders=${orders.join(',')};errors=${errors.join(',')}`,
    ROUTES: JSON.stringify(ROUTES),
    BODY_LIMIT_BYTES: String(64 * 1024 * 1024),
    ROUTE_TIMEOUT_MS: '1500',
    CLIENT_HEADERS_TIMEOUT_MS: '1500',
    PER_TRY_TIMEOUT_MS: '400',
    HEALTH_INTERVAL_MS: '0',
    // The error suite makes errors-* fail on purpose; keep them in the ring for its assertions.
    EJECT_CONSECUTIVE_FAILURES: '1000',
    BREAKER_VOLUME_THRESHOLD: '1000',
  });
  base = gateway.url;
});

afterAll(async () => {
  await gateway.close();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  for (const s of servers) s.closeAllConnections();
});

describe('gateway proxy: methods, paths, headers', () => {
  it.each(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])(
    '%s reaches the instance as /... with the query kept and the instance named',
    async (method) => {
      const hasBody = method !== 'GET' && method !== 'OPTIONS';
      const answer = await send(
        base,
        method,
        '/api/orders/items/42?x=1&y=%20z&x=2',
        { ...bearer(), 'x-hash-key': 'k-1', ...(hasBody ? { 'content-type': 'application/json' } : {}) },
        hasBody ? '{"a":1}' : undefined,
      );
      expect(answer.status, answer.body.toString()).toBe(200);
      const echo = answer.json<EchoBody>();
      expect(echo.method).toBe(method);
      expect(echo.url).toBe('/items/42?x=1&y=%20z&x=2');
      expect(echo.bodyBytes).toBe(hasBody ? 7 : 0);
      expect(answer.headers['x-upstream-instance']).toBe(echo.id);
    },
  );

  it('HEAD reaches the instance and answers without a body', async () => {
    const answer = await send(base, 'HEAD', '/api/orders/x', { ...bearer(), 'x-hash-key': 'k-1' });
    expect(answer.status).toBe(200);
    expect(answer.body.length).toBe(0);
    expect(answer.headers['x-upstream-instance']).toMatch(/^orders-\d$/);
  });

  it('forwards headers minus hop-by-hop ones, sets X-Forwarded-*, passes X-Request-Id and the subject', async () => {
    const answer = await send(base, 'GET', '/api/orders/h', {
      ...bearer('carol'),
      'x-request-id': 'req-abc-123',
      'x-forwarded-for': '203.0.113.7',
      'x-auth-subject': 'mallory',
      connection: 'keep-alive, x-hop',
      'x-hop': 'secret',
      'x-custom': 'kept',
      host: 'shop.example',
    });
    const echo = answer.json<EchoBody>();
    expect(echo.headers['x-request-id']).toBe('req-abc-123');
    expect(answer.headers['x-request-id']).toBe('req-abc-123');
    expect(echo.headers['x-auth-subject']).toBe('carol');
    // The gateway is the edge: a client's X-Forwarded-For is replaced, never trusted.
    expect(echo.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(echo.headers['x-forwarded-proto']).toBe('http');
    expect(echo.headers['x-forwarded-host']).toBe('shop.example');
    expect(echo.headers['x-custom']).toBe('kept');
    expect(echo.headers['x-hop']).toBeUndefined();
    // The client's token is replaced by the gateway's internal token for this identity and service.
    const internal = String(echo.headers.authorization).replace(/^Bearer /, '');
    const { payload } = await jwtVerify(internal, INTERNAL_KEYS.publicKey, {
      issuer: 'concord-gateway',
      audience: 'orders',
      algorithms: ['EdDSA'],
    });
    expect(payload).toMatchObject({ sub: 'carol', scope: 'customer' });
    expect(payload.exp! - payload.iat!).toBe(60);
    // Response: the upstream's own headers pass, its hop-by-hop ones do not.
    expect(answer.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(answer.headers['x-upstream-private']).toBe('kept');
    expect(answer.headers['keep-alive']).not.toBe('timeout=5');
  });

  it('creates a request id when the client sends none and passes that one on', async () => {
    const answer = await send(base, 'GET', '/api/orders/h', bearer());
    const id = answer.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f]{16}-[0-9a-z]+$/);
    expect(answer.json<EchoBody>().headers['x-request-id']).toBe(id);
  });
});

describe('gateway proxy: large bodies are streamed both ways', () => {
  it('round-trips a 48 MiB chunked upload and streams a 64 MiB download', async () => {
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
    const sent = createHash('sha256');
    let remaining = 48;
    const upload = new Readable({
      read() {
        if (remaining-- === 0) {
          this.push(null);
          return;
        }
        sent.update(chunk);
        this.push(chunk);
      },
    });
    const echoed = await send(
      base,
      'POST',
      '/api/orders/pipe',
      { ...bearer(), 'content-type': 'application/octet-stream' },
      upload,
    );
    expect(echoed.status).toBe(200);
    expect(echoed.body.length).toBe(48 * 1024 * 1024);
    expect(createHash('sha256').update(echoed.body).digest('hex')).toBe(sent.digest('hex'));

    const download = await send(base, 'GET', `/api/orders/download?bytes=${64 * 1024 * 1024}`, bearer());
    expect(download.status).toBe(200);
    expect(download.body.length).toBe(64 * 1024 * 1024);
  });

  it('passes binary answers through byte for byte, whether written in one write, buffered or streamed', async () => {
    // 0, a few bytes, <= 16 KiB (head and body in one latin1 write), <= 64 KiB (buffered), above (streamed).
    for (const bytes of [0, 5, 16 * 1024, 40_000, 64 * 1024 + 1, 300_000]) {
      const answer = await send(base, 'GET', `/api/orders/bytes?bytes=${bytes}`, bearer());
      expect(answer.status).toBe(200);
      const expected = Buffer.alloc(bytes);
      for (let i = 0; i < bytes; i++) expected[i] = (i * 7 + 3) & 0xff;
      expect(answer.body.equals(expected)).toBe(true);
      expect(answer.headers['content-length']).toBe(String(bytes));
    }
  });
});

describe('gateway proxy: upstream errors', () => {
  it('passes 4xx and 500 answers through unchanged, without retrying', async () => {
    for (const status of [404, 409, 500]) {
      const answer = await send(base, 'GET', `/api/errors/status/${status}`, {
        ...bearer(),
        'x-hash-key': 'e',
      });
      expect(answer.status).toBe(status);
      expect(answer.json()).toMatchObject({ status });
    }
  });

  it('retries an idempotent 503 on the other instance, and answers the last 503 when all fail', async () => {
    const answer = await send(base, 'GET', '/api/errors/status/503', { ...bearer(), 'x-hash-key': 'e' });
    expect(answer.status).toBe(503);
    expect(answer.headers['x-upstream-instance']).toMatch(/^errors-\d$/);
  });

  it('does not retry a POST that reached the upstream', async () => {
    const before = await retriesCount();
    const answer = await send(
      base,
      'POST',
      '/api/errors/status/503',
      { ...bearer(), 'x-hash-key': 'e' },
      'x',
    );
    expect(answer.status).toBe(503);
    expect(await retriesCount()).toBe(before);
  });

  it('answers 502 to an upstream status outside 100-599, and keeps serving', async () => {
    const answer = await send(base, 'GET', '/api/errors/status/700', { ...bearer(), 'x-hash-key': 'e' });
    expect(answer.status).toBe(502);
    expect(answer.json()).toMatchObject({ status: 502, service: 'errors' });
    expect(
      (await send(base, 'GET', '/api/errors/status/404', { ...bearer(), 'x-hash-key': 'e' })).status,
    ).toBe(404);
  });

  it('strips Expect: 100-continue, and a request refused locally never counts against an instance', async () => {
    for (let i = 0; i < 10; i++) {
      const answer = await send(
        base,
        'GET',
        '/api/orders/h',
        { ...bearer(), 'x-hash-key': 'expect', expect: '100-continue' },
        undefined,
      );
      expect(answer.status).toBe(200);
      expect(answer.json<EchoBody>().headers.expect).toBeUndefined();
    }
    const rings = await send(base, 'GET', '/admin/rings', { authorization: `Bearer ${ADMIN_TOKEN}` });
    const orders = rings
      .json<{ services: { service: string; instances: { breaker: string; ejected: boolean }[] }[] }>()
      .services.find((s) => s.service === 'orders')!;
    for (const instance of orders.instances)
      expect(instance).toMatchObject({ breaker: 'closed', ejected: false });
  });

  it('answers 504 with a problem body when the instances are too slow', async () => {
    const answer = await send(base, 'GET', '/api/errors/slow?delayMs=3000', {
      ...bearer(),
      'x-hash-key': 'e',
    });
    expect(answer.status).toBe(504);
    expect(answer.headers['content-type']).toContain('application/problem+json');
    expect(answer.json()).toMatchObject({ status: 504, service: 'errors' });
  });

  it('answers 503 naming the service when it has no instance', async () => {
    const answer = await send(base, 'GET', '/api/ghost/x');
    expect(answer.status).toBe(503);
    expect(answer.json()).toMatchObject({
      status: 503,
      service: 'ghost',
      detail: expect.stringContaining('ghost'),
    });
  });

  it('answers 404 for a path no route covers', async () => {
    expect((await send(base, 'GET', '/nowhere', bearer())).status).toBe(404);
  });
});

describe('gateway proxy: affinity', () => {
  it('sends the same key to the same instance while membership is stable, and spreads keys', async () => {
    const owner = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 150; k++) {
        const answer = await send(base, 'GET', `/public/orders/a?key=user-${k}`);
        const instance = String(answer.headers['x-upstream-instance']);
        if (round === 0) owner.set(`user-${k}`, instance);
        else expect(instance).toBe(owner.get(`user-${k}`));
      }
    }
    const counts = new Map<string, number>();
    for (const id of owner.values()) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(counts.size).toBe(3);
    for (const n of counts.values()) expect(n).toBeGreaterThan(20);
  });
});

describe('gateway edge: tokens, limits, bad input', () => {
  it('answers 401 for missing and bad tokens, 403 for a missing scope', async () => {
    expect((await send(base, 'GET', '/api/orders/x')).status).toBe(401);
    const bad = await send(base, 'GET', '/api/orders/x', { authorization: 'Bearer a.b.c' });
    expect(bad.status).toBe(401);
    expect(bad.json()).toMatchObject({
      status: 401,
      detail: expect.stringContaining('invalid bearer token'),
    });
    expect(bad.headers['www-authenticate']).toContain('invalid_token');
    const expired = bearer('alice', { exp: Math.floor(Date.now() / 1000) - 3600 });
    expect((await send(base, 'GET', '/api/orders/x', expired)).status).toBe(401);
    expect((await send(base, 'GET', '/admin-only/x', bearer('alice'))).status).toBe(403);
    expect((await send(base, 'GET', '/admin-only/x', bearer('root', { scope: 'admin' }))).status).toBe(200);
  });

  it('answers 413 for a declared or streamed body over the limit and 431 for large headers', async () => {
    const declared = await send(
      base,
      'POST',
      '/api/orders/x',
      {
        ...bearer(),
        'content-type': 'application/octet-stream',
        'content-length': String(65 * 1024 * 1024),
      },
      Buffer.alloc(10),
    );
    expect(declared.status).toBe(413);
    let left = 66;
    // /echo answers after the whole body (an upstream that answers early, like /pipe, gets a cut stream).
    const streamed = await send(
      base,
      'POST',
      '/api/orders/echo',
      {
        ...bearer(),
        'content-type': 'application/octet-stream',
      },
      new Readable({
        read() {
          this.push(left-- > 0 ? Buffer.alloc(1024 * 1024) : null);
        },
      }),
    );
    expect(streamed.status).toBe(413);
    expect(
      (await send(base, 'GET', '/api/orders/x', { ...bearer(), 'x-big': 'v'.repeat(9_000) })).status,
    ).toBe(431);
    expect(
      (await send(base, 'GET', '/api/orders/x', { ...bearer(), 'x-big': 'v'.repeat(20_000) })).status,
    ).toBe(431);
  });

  it('answers 400 to a malformed request line or header and keeps serving', async () => {
    for (const raw of [
      'GET /api/orders/x HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n',
      'GET /api/orders/x HTTP/1.1\r\nHost: a\r\nX-Ctl: a\u0001b\r\n\r\n',
      'NOT-HTTP\r\n\r\n',
    ]) {
      const head = await rawExchange(raw);
      expect(head).toMatch(/^HTTP\/1\.1 400 /);
    }
    expect((await send(base, 'GET', '/api/orders/x', bearer())).status).toBe(200);
  });

  it('cuts a client that sends its headers too slowly (slowloris) and keeps serving', async () => {
    const url = new URL(base);
    const startedMs = performance.now();
    const received = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () =>
        socket.write('GET /api/orders/x HTTP/1.1\r\nHost: a\r\n'),
      );
      // One more header byte now and then: never idle, never finished.
      const drip = setInterval(() => socket.write('X'), 200);
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('close', () => {
        clearInterval(drip);
        resolve(text);
      });
      socket.on('error', () => undefined);
      setTimeout(() => {
        socket.destroy();
        reject(new Error('the gateway did not cut the slow client'));
      }, 10_000);
    });
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
    expect(performance.now() - startedMs).toBeLessThan(4_000);
    expect((await send(base, 'GET', '/api/orders/x', bearer())).status).toBe(200);
  });

  it('counts a client that leaves mid-request as 499 and holds nothing against the instance', async () => {
    const url = new URL(base);
    const { authorization } = bearer();
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const socket = connect(Number(url.port), url.hostname, () =>
          socket.write(
            `GET /api/orders/slow?delayMs=1500&i=${i} HTTP/1.1\r\nHost: a\r\nAuthorization: ${authorization}\r\n\r\n`,
          ),
        );
        socket.on('error', () => undefined);
        // Gone while the instance is still working on it.
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 200);
      });
    }
    const deadline = performance.now() + 5_000;
    let gone = 0;
    while (performance.now() < deadline) {
      const text = (await send(base, 'GET', '/metrics')).body.toString();
      gone = 0;
      for (const match of text.matchAll(
        /^gateway_requests_total\{route="\/api\/orders",status="499",[^}]*\} (\d+)$/gm,
      ))
        gone += Number(match[1]);
      if (gone >= 5) {
        // No breaker half-open (1) or open (2) because of it.
        expect(text).not.toMatch(/^gateway_breaker_state\{service="orders"[^}]*\} [12]$/m);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(gone).toBeGreaterThanOrEqual(5);
    const view = await send(base, 'GET', '/admin/rings', { authorization: `Bearer ${ADMIN_TOKEN}` });
    const orders = (
      view.json<{ services: { service: string; instances: { healthy: boolean; ejected: boolean }[] }[] }>()
        .services ?? []
    ).find((service) => service.service === 'orders');
    for (const instance of orders?.instances ?? [])
      expect(instance).toMatchObject({ healthy: true, ejected: false });
    expect((await send(base, 'GET', '/api/orders/x', bearer())).status).toBe(200);
  });

  it('guards the admin endpoint and shows rings, health and breakers', async () => {
    expect((await send(base, 'GET', '/admin/rings')).status).toBe(401);
    expect((await send(base, 'GET', '/admin/rings', { authorization: 'Bearer wrong' })).status).toBe(401);
    const view = await send(base, 'GET', '/admin/rings', { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(view.status).toBe(200);
    expect(view.json()).toMatchObject({
      algorithm: 'ring',
      services: expect.arrayContaining([
        expect.objectContaining({
          service: 'orders',
          instances: [
            expect.objectContaining({ id: 'orders-1', healthy: true, breaker: 'closed' }),
            expect.objectContaining({ id: 'orders-2' }),
            expect.objectContaining({ id: 'orders-3' }),
          ],
        }),
      ]),
    });
  });

  it('exposes the gateway metrics', async () => {
    const text = (await send(base, 'GET', '/metrics')).body.toString();
    expect(text).toMatch(
      /gateway_requests_total\{route="\/api\/orders",status="200",instance="orders-\d"\} \d+/,
    );
    expect(text).toContain('gateway_ring_members{service="orders"} 3');
    expect(text).toContain('gateway_request_duration_seconds_bucket');
    expect(text).toMatch(/gateway_retries_total\{route="\/api\/errors",reason="503"\} [1-9]/);
  });
});

async function retriesCount(): Promise<number> {
  const text = (await send(base, 'GET', '/metrics')).body.toString();
  let total = 0;
  for (const match of text.matchAll(/^gateway_retries_total\{[^}]*\} (\d+)$/gm)) total += Number(match[1]);
  return total;
}

function rawExchange(raw: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.write(raw));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('end', () => resolve(received));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy());
  });
}
