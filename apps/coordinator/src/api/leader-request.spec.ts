import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { isResendable, requestLeader } from './leader-request.js';

let server: Server | undefined;
let pool: Pool | undefined;

afterEach(async () => {
  await pool?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = pool = undefined;
});

/** A leader whose first request lands on a socket it closes without answering (a keep-alive race). */
async function leaderThatDropsFirstRequest(): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  server = createServer((req, res) => {
    requests++;
    if (requests === 1) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

describe('requestLeader', () => {
  it('sends a resendable request once more when its socket dies before any answer', async () => {
    const leader = await leaderThatDropsFirstRequest();
    pool = new Pool(leader.url);
    const answer = await requestLeader(pool, { method: 'POST', path: '/v1/leases/7/keepalive' }, true);
    expect(answer.statusCode).toBe(200);
    expect(await answer.body.json()).toEqual({ ok: true });
    expect(leader.requests()).toBe(2);
  });

  it('never repeats a request that is not safe to send twice', async () => {
    const leader = await leaderThatDropsFirstRequest();
    pool = new Pool(leader.url);
    await expect(
      requestLeader(pool, { method: 'PUT', path: '/v1/kv/k', body: '{"value":"v"}' }, false),
    ).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    expect(leader.requests()).toBe(1);
  });

  it('knows which requests are resendable', () => {
    expect(isResendable('GET', '/v1/leases/abc')).toBe(true);
    expect(isResendable('POST', '/v1/leases/abc/keepalive')).toBe(true);
    expect(isResendable('POST', '/v1/leases/abc/keepalive?x=1')).toBe(true);
    expect(isResendable('POST', '/v1/leases')).toBe(false);
    expect(isResendable('PUT', '/v1/kv/a')).toBe(false);
    expect(isResendable('POST', '/v1/locks/a')).toBe(false);
    expect(isResendable('POST', '/v1/leases/a/keepalive/x')).toBe(false);
  });
});
