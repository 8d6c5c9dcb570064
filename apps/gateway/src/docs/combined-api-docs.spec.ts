import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CombinedApiDocs } from './combined-api-docs.js';

/** A real HTTP server standing for a service instance that serves its own /docs-json. */
describe('CombinedApiDocs', () => {
  let server: Server;
  let url: string;
  let fetched = 0;

  beforeAll(async () => {
    server = createServer((request, response) => {
      fetched += 1;
      if (request.url !== '/docs-json') return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          openapi: '3.0.0',
          info: { title: 'orders', version: '1' },
          paths: { '/v1/orders': { get: {} } },
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const registry = (instances: Record<string, string[]>) => ({
    services: (service: string) =>
      Promise.resolve({
        revision: 1,
        instances: (instances[service] ?? []).map((u, i) => ({
          id: `${service}-${i}`,
          url: u,
          modRevision: 1,
        })),
      }),
  });

  it('takes the first instance that answers, and lists a service with none as unavailable', async () => {
    const docs = new CombinedApiDocs({
      services: ['orders', 'payments'],
      // The first orders instance refuses connections: the second answers.
      registry: registry({ orders: ['http://127.0.0.1:1', url], payments: [] }),
      version: '1',
    });
    const document = await docs.document();
    expect(Object.keys(document.paths)).toEqual(['/api/orders/v1/orders']);
    expect(document['x-unavailable-services']).toEqual(['payments']);
  });

  it('serves from its cache within cacheMs, and concurrent requests share one round of fetches', async () => {
    let now = 0;
    const docs = new CombinedApiDocs({
      services: ['orders'],
      registry: registry({ orders: [url] }),
      version: '1',
      cacheMs: 10_000,
      now: () => now,
    });
    const before = fetched;
    await Promise.all([docs.document(), docs.document(), docs.document()]);
    expect(fetched - before).toBe(1);
    now = 5_000;
    await docs.document();
    expect(fetched - before).toBe(1);
    now = 20_000;
    await docs.document();
    expect(fetched - before).toBe(2);
  });

  it('without a registry, documents nothing and says so', async () => {
    const docs = new CombinedApiDocs({ services: ['orders'], registry: null, version: '1' });
    expect((await docs.document())['x-unavailable-services']).toEqual(['orders']);
  });
});
