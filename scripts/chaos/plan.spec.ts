import { describe, expect, it } from 'vitest';
import {
  crossCheck,
  exitCodeOf,
  parseChaosArgs,
  planRun,
  PRICE_CENTS,
  seededRandom,
  summarize,
} from './plan.js';

describe('chaos:transactions options', () => {
  it('defaults to 1,000 orders and refuses nonsense', () => {
    const options = parseChaosArgs(['--seed', '3']);
    expect(options).toMatchObject({ orders: 1000, clients: 16, settleMs: 120_000, seed: 3 });
    expect(parseChaosArgs(['--orders', '20']).orders).toBe(20);
    expect(() => parseChaosArgs(['--orders', '0'])).toThrow(/--orders must be an integer/);
    expect(() => parseChaosArgs(['--orders', 'many'])).toThrow(/--orders/);
    expect(() => parseChaosArgs(['--settle-seconds', '-1'])).toThrow(/--settle-seconds/);
    expect(() => parseChaosArgs(['--bogus'])).toThrow();
  });
});

describe('the order plan', () => {
  it('is replayable from its seed', () => {
    expect(seededRandom(9)()).toBe(seededRandom(9)());
    const a = planRun(50, 11).orders.map((o) => [o.customerId.split('-').at(-1), o.items.length, o.mode]);
    const b = planRun(50, 11).orders.map((o) => [o.customerId.split('-').at(-1), o.items.length, o.mode]);
    expect(a).toEqual(b);
  });

  it('mixes modes, gives every order a unique idempotency key, and has stock and funds for most', () => {
    const { seed, orders } = planRun(1000, 5);
    expect(orders).toHaveLength(1000);
    expect(orders.filter((o) => o.mode === 'saga')).toHaveLength(500);
    expect(new Set(orders.map((o) => o.idempotencyKey)).size).toBe(1000);
    const stock = new Map(seed.products.map((p) => [p.sku, p.stock]));
    const funds = new Map(seed.accounts.map((a) => [a.customerId, a.depositCents]));
    // Sum demand per product and spend per customer: only the scarce product and the poor customers run short.
    const demand = new Map<string, number>();
    const spend = new Map<string, number>();
    for (const o of orders) {
      expect(o.items.length).toBeGreaterThan(0);
      expect(new Set(o.items.map((i) => i.sku)).size).toBe(o.items.length);
      for (const i of o.items) {
        demand.set(i.sku, (demand.get(i.sku) ?? 0) + i.qty);
        spend.set(o.customerId, (spend.get(o.customerId) ?? 0) + i.qty * PRICE_CENTS);
      }
    }
    const short = [...demand].filter(([sku, qty]) => qty > (stock.get(sku) ?? 0)).map(([sku]) => sku);
    expect(short).toHaveLength(1);
    expect(short[0]).toMatch(/scarce$/);
    const broke = [...spend].filter(([c, cents]) => cents > (funds.get(c) ?? 0)).map(([c]) => c);
    expect(broke.every((c) => /poor\d$/.test(c))).toBe(true);
    expect(broke.length).toBeGreaterThan(0);
    const unlucky = orders.filter(
      (o) => /poor\d$/.test(o.customerId) || o.items.some((i) => short.includes(i.sku)),
    );
    expect(unlucky.length).toBeGreaterThan(10);
    expect(unlucky.length).toBeLessThan(250);
  });
});

describe('the summary', () => {
  it('counts outcomes and fails the run on anything pending, violated or prepared', () => {
    const result = summarize(['CONFIRMED', 'CONFIRMED', 'CANCELLED', 'PENDING'], 0, 0, 7);
    expect(JSON.stringify(result)).toBe(
      '{"orders":4,"confirmed":2,"cancelled":1,"pending":1,"invariantViolations":0,"preparedLeft":0,"faults":7}',
    );
    expect(exitCodeOf(result)).toBe(1);
    expect(exitCodeOf(summarize(['CONFIRMED', 'CANCELLED'], 0, 0, 3))).toBe(0);
    expect(exitCodeOf(summarize(['CONFIRMED'], 1, 0, 3))).toBe(1);
    expect(exitCodeOf(summarize(['CONFIRMED'], 0, 1, 3))).toBe(1);
  });

  it('cross-checks the REST view against the rows', () => {
    const row = { id: 'a', status: 'CONFIRMED', totalCents: 100 };
    expect(crossCheck(1, [row], [row])).toEqual([]);
    expect(crossCheck(1, [row], [{ ...row, status: 'CANCELLED' }])[0]).toMatch(/REST says CONFIRMED/);
    expect(crossCheck(1, [row], [])[0]).toMatch(/has no row/);
    expect(crossCheck(1, [row, row], [row])).toContain('an order is listed twice');
    expect(crossCheck(1, [row, row], [row])[0]).toMatch(/2 orders found over REST for 1 placed/);
  });
});
