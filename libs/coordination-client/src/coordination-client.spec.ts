import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CoordinationClient } from './coordination-client.js';
import { CoordinatorHttpError, CoordinatorUnavailableError } from './errors.js';

const servers: Server[] = [];

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  // The client asks for /v1/cluster to find the leader; these fakes have no cluster view.
  const server = createServer((req, res) => {
    if (req.url === '/v1/cluster') res.writeHead(404).end('{"status":404}');
    else handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A URL where nothing listens (connection refused: the request was never sent). */
async function deadUrl(): Promise<string> {
  const url = await serve(() => undefined);
  await new Promise<void>((resolve) => servers.pop()?.close(() => resolve()));
  return url;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const fast = { token: 't', backoffBaseMs: 1, backoffMaxMs: 5, requestTimeoutMs: 500, attempts: 4 };

describe('CoordinationClient', () => {
  it('moves to the next node when one refuses connections, even for a non-idempotent call', async () => {
    const live = await serve((_req, res) =>
      res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"a","ttlSeconds":5}'),
    );
    const client = new CoordinationClient({ ...fast, urls: [await deadUrl(), live] });
    expect(await client.grantLease(5)).toEqual({ id: 'a', ttlSeconds: 5 });
    client.close();
  });

  it('retries a 503 (no leader yet) until a leader answers', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls += 1;
      if (calls < 3)
        res.writeHead(503, { 'retry-after': '1', 'x-concord-outcome': 'notApplied' }).end('{"status":503}');
      else res.writeHead(200).end('{"revision":4}');
    });
    const client = new CoordinationClient({ ...fast, urls: [url] });
    expect(await client.put('k', 'v')).toEqual({ revision: 4 });
    expect(calls).toBe(3);
    client.close();
  });

  it('does not repeat a non-idempotent write after an ambiguous failure', async () => {
    let calls = 0;
    const url = await serve((req) => {
      calls += 1;
      req.socket.destroy();
    });
    const client = new CoordinationClient({ ...fast, urls: [url] });
    await expect(client.put('k', 'v')).rejects.toBeInstanceOf(CoordinatorUnavailableError);
    expect(calls).toBe(1);
    client.close();
  });

  it('retries an idempotent read after an ambiguous failure', async () => {
    let calls = 0;
    const url = await serve((req, res) => {
      calls += 1;
      if (calls === 1) req.socket.destroy();
      else res.writeHead(404).end('{"status":404}');
    });
    const client = new CoordinationClient({ ...fast, urls: [url] });
    expect(await client.get('missing')).toBeNull();
    expect(calls).toBe(2);
    client.close();
  });

  it('surfaces a 4xx answer at once, with its problem body', async () => {
    const url = await serve((_req, res) =>
      res.writeHead(409).end('{"status":409,"detail":"conflict","modRevision":3}'),
    );
    const client = new CoordinationClient({ ...fast, urls: [url] });
    const error = await client.put('k', 'v', { prevRevision: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CoordinatorHttpError);
    expect((error as CoordinatorHttpError).body.modRevision).toBe(3);
    client.close();
  });
});

describe('CoordinationClient and unknown outcomes', () => {
  it('does not repeat a write whose 503 says it may still commit', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls += 1;
      res.writeHead(503, { 'x-concord-outcome': 'unknown' }).end('{"status":503}');
    });
    const client = new CoordinationClient({ ...fast, urls: [url] });
    await expect(client.put('k', 'v')).rejects.toBeInstanceOf(CoordinatorUnavailableError);
    expect(calls).toBe(1);
    client.close();
  });
});
