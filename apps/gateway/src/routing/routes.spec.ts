import { describe, expect, it } from 'vitest';
import { breakerSettingsByService, extractHashKey, parseRoutesJson, RouteTable } from './routes.js';

const request = (over: Partial<Parameters<typeof extractHashKey>[1]> = {}) => ({
  header: (name: string) => ({ 'x-hash-key': 'hk', cookie: 'a=1; session=s-9', 'x-user': 'u7' })[name],
  query: '?tenant=t1&x=2',
  upstreamPath: '/carts/c-42/items',
  clientAddress: '10.0.0.9',
  ...over,
});

describe('RouteTable with default routes', () => {
  const table = new RouteTable(undefined);

  it('maps /api/{service}/... to the service and strips the prefix, keeping the query', () => {
    const match = table.match('/api/orders/o-1/lines?limit=5&x=%20');
    expect(match?.route.service).toBe('orders');
    expect(match?.route.public).toBe(false);
    expect(match?.upstreamPath).toBe('/o-1/lines');
    expect(match?.query).toBe('?limit=5&x=%20');
  });

  it('sends /api/{service} alone to the root path', () => {
    expect(table.match('/api/orders')?.upstreamPath).toBe('/');
    expect(table.match('/api/orders?x=1')).toMatchObject({ upstreamPath: '/', query: '?x=1' });
  });

  it('matches nothing outside /api or with an invalid service name', () => {
    expect(table.match('/other/orders')).toBeUndefined();
    expect(table.match('/api/')).toBeUndefined();
    expect(table.match('/api/Orders%00/x')).toBeUndefined();
  });
});

describe('RouteTable with explicit routes', () => {
  const table = new RouteTable(
    parseRoutesJson(
      JSON.stringify([
        { prefix: '/shop', service: 'orders', public: true },
        { prefix: '/shop/stock/', service: 'inventory', hashKey: { segment: 0 }, timeoutMs: 500 },
      ]),
    ),
  );

  it('prefers the longest prefix on a segment boundary', () => {
    expect(table.match('/shop/stock/sku-1')).toMatchObject({
      route: { service: 'inventory', timeoutMs: 500 },
      upstreamPath: '/sku-1',
    });
    expect(table.match('/shop/stockings')?.route.service).toBe('orders');
    expect(table.match('/shopping')).toBeUndefined();
    expect(table.match('/api/orders/x')).toBeUndefined();
  });
});

describe('parseRoutesJson', () => {
  it('names the bad entry', () => {
    expect(() => parseRoutesJson('[{"prefix":"shop","service":"orders"}]')).toThrowError(/route 0.prefix/);
    expect(() => parseRoutesJson('[{"prefix":"/a","service":"orders","hashKey":{"nope":1}}]')).toThrowError(
      /route 0.hashKey/,
    );
    expect(() => parseRoutesJson('{')).toThrowError(/JSON array/);
  });

  it('reads breaker settings per route', () => {
    const [route] = parseRoutesJson(
      '[{"prefix":"/a","service":"orders","breaker":{"volumeThreshold":4,"resetTimeoutMs":900}}]',
    );
    expect(route?.breaker).toEqual({ volumeThreshold: 4, resetTimeoutMs: 900 });
    const routes = parseRoutesJson(
      '[{"prefix":"/a","service":"orders","breaker":{"errorThresholdPercentage":20}},' +
        '{"prefix":"/b","service":"orders","breaker":{"volumeThreshold":9}},{"prefix":"/c","service":"x"}]',
    );
    expect(breakerSettingsByService(routes)).toEqual({ orders: { errorThresholdPercentage: 20 } });
    expect(() =>
      parseRoutesJson('[{"prefix":"/a","service":"o","breaker":{"volumeThreshold":0}}]'),
    ).toThrowError(/route 0.breaker.volumeThreshold/);
  });

  it('lower-cases header names, as Node presents them', () => {
    const [route] = parseRoutesJson('[{"prefix":"/a","service":"orders","hashKey":{"header":"X-Tenant"}}]');
    expect(route?.hashKey).toEqual({ header: 'x-tenant' });
  });

  it('fills defaults: X-Hash-Key, authenticated, no scopes', () => {
    expect(parseRoutesJson('[{"prefix":"/a/","service":"orders"}]')[0]).toMatchObject({
      prefix: '/a',
      hashKey: { header: 'x-hash-key' },
      public: false,
      scopes: [],
    });
  });
});

describe('extractHashKey', () => {
  it('reads each source', () => {
    expect(extractHashKey({ header: 'x-hash-key' }, request())).toBe('hk');
    expect(extractHashKey({ query: 'tenant' }, request())).toBe('t1');
    expect(extractHashKey({ cookie: 'session' }, request())).toBe('s-9');
    expect(extractHashKey({ segment: 1 }, request())).toBe('c-42');
  });

  it('falls back to the client address when the source is absent or empty', () => {
    expect(extractHashKey({ header: 'x-missing' }, request())).toBe('10.0.0.9');
    expect(extractHashKey({ query: 'nope' }, request({ query: '' }))).toBe('10.0.0.9');
    expect(extractHashKey({ cookie: 'nope' }, request())).toBe('10.0.0.9');
    expect(extractHashKey({ segment: 7 }, request())).toBe('10.0.0.9');
  });
});
