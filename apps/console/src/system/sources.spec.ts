import { describe, expect, it } from 'vitest';
import { type Fetch, SystemSources } from './sources.js';

function fakeFetch(routes: Record<string, unknown>, seen: { url: string; auth?: string }[] = []): Fetch {
  return async (url, init) => {
    seen.push({ url, auth: init.headers.authorization });
    const body = routes[url];
    if (body === undefined)
      throw Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    if (body instanceof Error) throw body;
    return {
      ok: true,
      status: 200,
      json: async () => body,
      text: async () => (typeof body === 'string' ? body : JSON.stringify(body)),
    };
  };
}

const settings = {
  coordinatorUrls: ['http://c1', 'http://c2'],
  coordinatorToken: 'coord-token',
  gatewayUrl: 'http://gw',
  gatewayAdminToken: 'admin-token',
  orchestratorUrls: ['http://o1', 'http://o2'],
  orchestratorToken: 'orch-token',
  recentTransactions: 2,
  requestTimeoutMs: 500,
};

describe('SystemSources', () => {
  it('reads every part with its own credential and never passes saga inputs on', async () => {
    const seen: { url: string; auth?: string }[] = [];
    const tx = (id: string, createdAt: string, mode: string) => ({
      id,
      type: 'place-order',
      mode,
      status: 'completed',
      createdAt,
      updatedAt: createdAt,
      input: { customerId: 'alice', cardNumber: 'secret' },
    });
    const fetch = fakeFetch(
      {
        'http://c1/v1/cluster': {
          id: 'n1',
          leader: 'n1',
          term: 2,
          commitIndex: 5,
          appliedIndex: 5,
          members: [],
        },
        'http://gw/admin/rings': { algorithm: 'ring', services: [] },
        'http://gw/metrics': 'gateway_requests_total{instance="orders-1"} 3',
        'http://o2/v1/sagas?limit=2': {
          items: [tx('s1', '2026-01-01T00:00:03Z', 'saga'), tx('s0', '2026-01-01T00:00:00Z', 'saga')],
        },
        'http://o2/v1/transactions?limit=2': { items: [tx('t1', '2026-01-01T00:00:02Z', '2pc')] },
        'http://o2/v1/sagas/s1': {
          ...tx('s1', '2026-01-01T00:00:03Z', 'saga'),
          steps: [
            {
              step: 'reserve',
              status: 'done',
              attempts: 1,
              startedAt: 'a',
              finishedAt: 'b',
              reply: { x: 1 },
            },
          ],
        },
        'http://o2/v1/transactions/t1': tx('t1', '2026-01-01T00:00:02Z', '2pc'),
      },
      seen,
    );
    const result = await new SystemSources(settings, fetch, () => 42).poll();
    expect(result.atMs).toBe(42);
    expect(result.coordinators.map((c) => c.ok)).toEqual([true, false]);
    expect(result.rings.ok).toBe(true);
    expect(result.requestCounts?.get('orders-1')).toBe(3);
    expect(result.transactions.ok && result.transactions.items.map((t) => t.id)).toEqual(['s1', 't1']);
    const s1 = result.transactions.ok ? result.transactions.items[0] : undefined;
    expect(s1).not.toHaveProperty('input');
    expect(s1?.steps).toEqual([
      { step: 'reserve', status: 'done', attempts: 1, startedAt: 'a', finishedAt: 'b' },
    ]);
    expect(seen.find((s) => s.url === 'http://c1/v1/cluster')?.auth).toBe('Bearer coord-token');
    expect(seen.find((s) => s.url === 'http://gw/admin/rings')?.auth).toBe('Bearer admin-token');
    expect(seen.find((s) => s.url.startsWith('http://o2'))?.auth).toBe('Bearer orch-token');
  });

  it('reports each part that cannot be read instead of failing the poll', async () => {
    const result = await new SystemSources(settings, fakeFetch({}), () => 1).poll();
    expect(result.coordinators.every((c) => !c.ok)).toBe(true);
    expect(result.rings).toEqual({ ok: false, error: 'ECONNREFUSED' });
    expect(result.requestCounts).toBeUndefined();
    expect(result.transactions).toEqual({ ok: false, error: 'http://o2: ECONNREFUSED' });
  });
});
