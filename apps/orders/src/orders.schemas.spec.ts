import { ProblemException, ZodPipe } from '@concord/platform';
import { describe, expect, it } from 'vitest';
import { listOrdersQuery, placeOrderBody, placeOrderHeaders, placeOrderQuery } from './orders.schemas.js';

function problemOf(run: () => unknown): { status: number; errors: Array<{ field: string }> } {
  try {
    run();
  } catch (error) {
    if (error instanceof ProblemException) return error.getResponse() as { status: number; errors: [] };
    throw error;
  }
  throw new Error('expected a 400 problem');
}

describe('orders request shapes', () => {
  it('accepts a well-formed order', () => {
    const body = { customerId: 'alice', items: [{ sku: 'apple', qty: 2 }], mode: '2pc' };
    expect(new ZodPipe(placeOrderBody).transform(body)).toEqual(body);
  });

  it('names every bad field of a bad order, nested ones by path', () => {
    const problem = problemOf(() =>
      new ZodPipe(placeOrderBody).transform({
        customerId: '',
        items: [{ sku: 'apple', qty: 0 }],
        mode: '3pc',
        extra: true,
      }),
    );
    expect(problem.status).toBe(400);
    expect(problem.errors.map((e) => e.field).sort()).toEqual([
      '(body)',
      'customerId',
      'items.0.qty',
      'mode',
    ]);
  });

  it('parses ?wait, the Idempotency-Key header and list queries', () => {
    expect(new ZodPipe(placeOrderQuery).transform({ wait: 'true' })).toEqual({ wait: true });
    expect(new ZodPipe(placeOrderQuery).transform({})).toEqual({ wait: false });
    expect(problemOf(() => new ZodPipe(placeOrderQuery).transform({ wait: 'yes' })).errors[0]?.field).toBe(
      'wait',
    );
    expect(new ZodPipe(placeOrderHeaders).transform({ host: 'x', 'idempotency-key': 'k-1' })).toEqual({
      'idempotency-key': 'k-1',
    });
    expect(new ZodPipe(listOrdersQuery).transform({ customerId: 'alice' })).toEqual({
      customerId: 'alice',
      limit: 50,
    });
    expect(problemOf(() => new ZodPipe(listOrdersQuery).transform({})).errors[0]?.field).toBe('customerId');
  });
});
