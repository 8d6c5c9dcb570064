import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, settleVerdict, toPlaced, toView } from './order-view.js';
import type { OrderRow } from './orders.repository.js';

const row: OrderRow = {
  id: '6f1c1f8e-4a52-4a43-9a53-5c1f0f0f0f0f',
  seq: 7,
  customerId: 'c1',
  items: [{ sku: 'a', qty: 1 }],
  mode: 'saga',
  status: 'CANCELLED',
  reason: 'out of stock: a',
  totalCents: null,
  transactionId: 't1',
  startAttempts: 1,
  createdAt: new Date('2026-01-01T00:00:00Z'),
  settledAt: new Date('2026-01-01T00:00:01Z'),
};

describe('settleVerdict', () => {
  it('settles a PENDING order once; a repeat is acknowledged; a contradiction is reported', () => {
    expect(settleVerdict({ status: 'PENDING' }, 'CONFIRMED')).toBe('settle');
    expect(settleVerdict({ status: 'CONFIRMED' }, 'CONFIRMED')).toBe('repeat');
    expect(settleVerdict({ status: 'CANCELLED' }, 'CONFIRMED')).toBe('conflict');
    expect(settleVerdict(undefined, 'CANCELLED')).toBe('unknown');
  });
});

describe('views', () => {
  it('shows the reason only when there is one', () => {
    expect(toView(row)).toMatchObject({
      status: 'CANCELLED',
      reason: 'out of stock: a',
      settledAt: '2026-01-01T00:00:01.000Z',
    });
    expect(toView({ ...row, status: 'PENDING', reason: null, settledAt: null })).not.toHaveProperty('reason');
    expect(toPlaced(row)).toEqual({
      orderId: row.id,
      transactionId: 't1',
      status: 'CANCELLED',
      totalCents: null,
      reason: 'out of stock: a',
    });
  });
});

describe('cursor', () => {
  it('round-trips a seq and rejects anything else', () => {
    expect(decodeCursor(encodeCursor(42))).toBe(42);
    expect(decodeCursor('not-a-cursor')).toBeUndefined();
    expect(decodeCursor(Buffer.from('o-1').toString('base64url'))).toBeUndefined();
  });
});
