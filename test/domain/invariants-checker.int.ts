import { describe, expect, it } from 'vitest';
import { checkInvariants, type DomainSnapshot } from './invariants.js';

/**
 * The invariant checker itself, on hand-made snapshots (pure, no process). It lives under test/ with the
 * end-to-end test that uses it, hence the integration project.
 */

/** One confirmed order (2 × a at 100) and one cancelled one, everything consistent. */
function consistent(): DomainSnapshot {
  return {
    products: [{ sku: 'a', stock: 8, reserved: 0, sold: 2, received: 10, receiptsQty: 10 }],
    reservations: [
      { orderId: 'o1', sku: 'a', qty: 2, priceCents: 100, status: 'SOLD' },
      { orderId: 'o2', sku: 'a', qty: 1, priceCents: 100, status: 'RELEASED' },
    ],
    accounts: [
      { customerId: 'c', balanceCents: 800, heldCents: 0, capturedCents: 200, depositedCents: 1_000 },
    ],
    holds: [
      { orderId: 'o1', customerId: 'c', amountCents: 200, status: 'CAPTURED' },
      { orderId: 'o2', customerId: 'c', amountCents: 100, status: 'RELEASED' },
    ],
    orders: [
      { id: 'o1', customerId: 'c', items: [{ sku: 'a', qty: 2 }], status: 'CONFIRMED', totalCents: 200 },
      { id: 'o2', customerId: 'c', items: [{ sku: 'a', qty: 1 }], status: 'CANCELLED', totalCents: null },
    ],
    preparedGids: [],
  };
}

describe('checkInvariants', () => {
  it('finds nothing wrong with a consistent snapshot', () => {
    expect(checkInvariants(consistent())).toEqual([]);
  });

  it('catches money created or lost in an account', () => {
    const s = consistent();
    s.accounts[0]!.balanceCents += 1;
    expect(checkInvariants(s).join('\n')).toMatch(/balance \+ held \+ captured != deposited/);
  });

  it('catches stock created or lost in a product, and receipts that disagree', () => {
    const s = consistent();
    s.products[0]!.stock -= 1;
    s.products[0]!.receiptsQty = 9;
    const found = checkInvariants(s).join('\n');
    expect(found).toMatch(/stock \+ reserved \+ sold != received/);
    expect(found).toMatch(/received 10 != receipts 9/);
  });

  it('catches money held or stock reserved after everything settled, and a prepared transaction left', () => {
    const s = consistent();
    s.holds[1]!.status = 'HELD';
    s.accounts[0] = { ...s.accounts[0]!, balanceCents: 700, heldCents: 100 };
    s.reservations[1]!.status = 'RESERVED';
    s.products[0] = { ...s.products[0]!, stock: 7, reserved: 1 };
    s.preparedGids.push('payments:t1');
    const found = checkInvariants(s).join('\n');
    expect(found).toMatch(/order o2 holds money/);
    expect(found).toMatch(/order o2 reserves a/);
    expect(found).toMatch(/prepared transaction payments:t1/);
    expect(found).toMatch(/cancelled order o2 has a capture or a hold/);
  });

  it('catches a confirmed order charged twice or not at all', () => {
    const twice = consistent();
    twice.holds.push({ orderId: 'o1', customerId: 'c', amountCents: 200, status: 'CAPTURED' });
    expect(checkInvariants(twice).join('\n')).toMatch(/confirmed order o1 has 2 captures/);
    const never = consistent();
    never.holds = never.holds.filter((h) => h.orderId !== 'o1');
    expect(checkInvariants(never).join('\n')).toMatch(/confirmed order o1 has 0 captures/);
  });

  it('catches a confirmed order whose stock was not sold, and a cancelled one whose stock was', () => {
    const s = consistent();
    s.reservations[0]!.status = 'RELEASED';
    s.reservations[1]!.status = 'SOLD';
    const found = checkInvariants(s).join('\n');
    expect(found).toMatch(/confirmed order o1: reservations not all sold/);
    expect(found).toMatch(/cancelled order o2 has reservations sold or open/);
  });

  it('does not require settled-state rules while an order is PENDING', () => {
    const s = consistent();
    s.orders.push({
      id: 'o3',
      customerId: 'c',
      items: [{ sku: 'a', qty: 1 }],
      status: 'PENDING',
      totalCents: null,
    });
    s.reservations.push({ orderId: 'o3', sku: 'a', qty: 1, priceCents: 100, status: 'RESERVED' });
    s.products[0] = { ...s.products[0]!, stock: 7, reserved: 1 };
    expect(checkInvariants(s)).toEqual([]);
  });
});
