import { describe, expect, it } from 'vitest';
import { combineOpenApi, type OpenApiDocument } from './combined-openapi.js';

const doc = (title: string, paths: OpenApiDocument['paths'], schemas: Record<string, unknown> = {}) =>
  ({ openapi: '3.0.0', info: { title, version: '1' }, paths, components: { schemas } }) as OpenApiDocument;

describe('combineOpenApi', () => {
  const orders = doc(
    'Concord orders',
    {
      '/v1/orders': {
        post: {
          operationId: 'place',
          tags: ['orders'],
          requestBody: {
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Order' } } },
          },
        },
      },
      '/health': { get: { operationId: 'health' } },
      '/metrics': { get: {} },
      '/docs-json': { get: {} },
    },
    { Order: { type: 'object', properties: { line: { $ref: '#/components/schemas/Line' } } }, Line: {} },
  );
  const payments = doc(
    'Concord payments',
    { '/v1/accounts/{customerId}': { get: { operationId: 'get' } } },
    { Order: {} },
  );

  it('puts every path under /api/{service}, tags it, and leaves out health, metrics and docs', () => {
    const combined = combineOpenApi(
      [
        { service: 'orders', document: orders },
        { service: 'payments', document: payments },
      ],
      '0.1.0',
    );
    expect(Object.keys(combined.paths).sort()).toEqual([
      '/api/orders/v1/orders',
      '/api/payments/v1/accounts/{customerId}',
    ]);
    expect(combined.paths['/api/orders/v1/orders']?.['post']).toMatchObject({
      tags: ['orders'],
      operationId: 'orders_place',
    });
    expect(combined.tags?.map((t) => t.name)).toEqual(['orders', 'payments']);
  });

  it('namespaces component schemas so that equal names do not collide, and rewrites every $ref', () => {
    const combined = combineOpenApi(
      [
        { service: 'orders', document: orders },
        { service: 'payments', document: payments },
      ],
      '0.1.0',
    );
    expect(Object.keys(combined.components?.schemas ?? {}).sort()).toEqual([
      'orders.Line',
      'orders.Order',
      'payments.Order',
    ]);
    expect(combined.components?.schemas?.['orders.Order']).toEqual({
      type: 'object',
      properties: { line: { $ref: '#/components/schemas/orders.Line' } },
    });
    expect(JSON.stringify(combined.paths)).toContain('#/components/schemas/orders.Order');
    expect(JSON.stringify(combined)).not.toMatch(/schemas\/(Order|Line)"/);
  });

  it('says which services did not answer, instead of failing the whole document', () => {
    const combined = combineOpenApi(
      [
        { service: 'orders', document: orders },
        { service: 'inventory', document: undefined },
      ],
      '0.1.0',
    );
    expect(combined['x-unavailable-services']).toEqual(['inventory']);
    expect(combined.info.description).toContain('inventory');
    expect(Object.keys(combined.paths)).toHaveLength(1);
  });
});
