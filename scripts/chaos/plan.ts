/**
 * The pure parts of `npm run chaos:transactions`: its options, the order plan (who orders what, in which mode),
 * the seed that makes most orders confirm and some cancel, the fault schedule's choices, and the summary line.
 * No I/O here: the runner (scripts/chaos-transactions.ts) does the processes, HTTP and SQL.
 */
import { parseArgs } from 'node:util';

export interface ChaosOptions {
  readonly orders: number;
  /** Concurrent clients placing orders. */
  readonly clients: number;
  /** Mean pause between two faults (ms); each pause is drawn in [0.5, 1.5] × this. */
  readonly faultEveryMs: number;
  /** Faults go on at least this long, even if the orders are all placed sooner. */
  readonly minChaosMs: number;
  /** Deadline for every order to settle once the faults stop. */
  readonly settleMs: number;
  readonly seed: number;
}

export function parseChaosArgs(argv: readonly string[]): ChaosOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      orders: { type: 'string', default: '1000' },
      clients: { type: 'string', default: '16' },
      'fault-every-ms': { type: 'string', default: '1500' },
      'min-chaos-seconds': { type: 'string', default: '20' },
      'settle-seconds': { type: 'string', default: '120' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    },
  });
  const int = (name: string, raw: string, min: number, max: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`--${name} must be an integer from ${min} to ${max} (got "${raw}")`);
    }
    return n;
  };
  return {
    orders: int('orders', values.orders, 1, 1_000_000),
    clients: int('clients', values.clients, 1, 256),
    faultEveryMs: int('fault-every-ms', values['fault-every-ms'], 50, 600_000),
    minChaosMs: int('min-chaos-seconds', values['min-chaos-seconds'], 0, 3_600) * 1_000,
    settleMs: int('settle-seconds', values['settle-seconds'], 1, 3_600) * 1_000,
    seed: int('seed', values.seed, 0, 2 ** 31 - 1),
  };
}

/** mulberry32: a small seeded generator, so a run can be replayed with `--seed`. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export const PRICE_CENTS = 100;
export const QTY_MAX = 3;
export const LINES_MAX = 2;

export interface SeedPlan {
  readonly products: ReadonlyArray<{ sku: string; priceCents: number; stock: number }>;
  readonly accounts: ReadonlyArray<{ customerId: string; depositCents: number }>;
}

export interface PlannedOrder {
  readonly index: number;
  readonly customerId: string;
  readonly items: ReadonlyArray<{ sku: string; qty: number }>;
  readonly mode: 'saga' | '2pc';
  /** Sent as Idempotency-Key, so a POST retried after a lost answer places the order once. */
  readonly idempotencyKey: string;
}

/**
 * Forty products with stock for every order that wants them, plus one scarce product (stock for a few orders);
 * customers with funds for all their orders, plus two poor ones (funds for one unit). So most orders confirm,
 * and some cancel: out of stock (the scarce product) or insufficient funds (the poor customers).
 */
export const COMMON_PRODUCTS = 40;

export function planRun(orders: number, seed: number): { seed: SeedPlan; orders: PlannedOrder[] } {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const run = `${seed.toString(36)}${Date.now().toString(36)}`;
  const common = Array.from({ length: COMMON_PRODUCTS }, (_, i) => `chaos-${run}-p${i}`);
  const scarce = `chaos-${run}-scarce`;
  const rich = Array.from({ length: Math.max(4, Math.min(40, Math.ceil(orders / 25))) }, (_, i) => {
    return `chaos-${run}-c${i}`;
  });
  const poor = [`chaos-${run}-poor0`, `chaos-${run}-poor1`];

  const planned: PlannedOrder[] = [];
  for (let index = 0; index < orders; index++) {
    const r = random();
    const customerId = r < 0.05 ? pick(poor) : pick(rich);
    const skus = new Set<string>();
    const lines = 1 + Math.floor(random() * LINES_MAX);
    for (let l = 0; l < lines; l++) skus.add(random() < 0.05 ? scarce : pick(common));
    const items = [...skus].map((sku) => ({ sku, qty: 1 + Math.floor(random() * QTY_MAX) }));
    planned.push({
      index,
      customerId,
      items,
      mode: index % 2 === 0 ? 'saga' : '2pc',
      idempotencyKey: `chaos-${run}-o${index}`,
    });
  }

  const demand = new Map<string, number>();
  const spend = new Map<string, number>();
  for (const o of planned) {
    for (const item of o.items) {
      demand.set(item.sku, (demand.get(item.sku) ?? 0) + item.qty);
      spend.set(o.customerId, (spend.get(o.customerId) ?? 0) + item.qty * PRICE_CENTS);
    }
  }
  return {
    seed: {
      products: [
        ...common.map((sku) => ({ sku, priceCents: PRICE_CENTS, stock: (demand.get(sku) ?? 0) + 10 })),
        {
          sku: scarce,
          priceCents: PRICE_CENTS,
          stock: Math.max(3, Math.floor((demand.get(scarce) ?? 0) / 4)),
        },
      ],
      accounts: [
        ...rich.map((customerId) => ({ customerId, depositCents: (spend.get(customerId) ?? 0) + 1_000 })),
        ...poor.map((customerId) => ({ customerId, depositCents: PRICE_CENTS })),
      ],
    },
    orders: planned,
  };
}

export interface ChaosResult {
  orders: number;
  confirmed: number;
  cancelled: number;
  pending: number;
  invariantViolations: number;
  preparedLeft: number;
  faults: number;
}

export function summarize(
  statuses: readonly string[],
  invariantViolations: number,
  preparedLeft: number,
  faults: number,
): ChaosResult {
  const count = (s: string): number => statuses.filter((x) => x === s).length;
  return {
    orders: statuses.length,
    confirmed: count('CONFIRMED'),
    cancelled: count('CANCELLED'),
    pending: statuses.length - count('CONFIRMED') - count('CANCELLED'),
    invariantViolations,
    preparedLeft,
    faults,
  };
}

/** Non-zero when anything is left pending, any invariant fails or a prepared transaction remains. */
export function exitCodeOf(result: ChaosResult): number {
  return result.pending > 0 || result.invariantViolations > 0 || result.preparedLeft > 0 ? 1 : 0;
}

/**
 * Checks the REST view of the orders against the SQL rows and the plan: every planned order found once (the
 * Idempotency-Key makes a retried POST the same order), none extra, and the API agrees with the database.
 */
export function crossCheck(
  planned: number,
  rest: ReadonlyArray<{ id: string; status: string; totalCents: number | null }>,
  sql: ReadonlyArray<{ id: string; status: string; totalCents: number | null }>,
): string[] {
  const violations: string[] = [];
  if (rest.length > planned) violations.push(`${rest.length} orders found over REST for ${planned} placed`);
  const byId = new Map(sql.map((o) => [o.id, o]));
  for (const o of rest) {
    const row = byId.get(o.id);
    if (!row) violations.push(`order ${o.id} is listed over REST but has no row`);
    else if (row.status !== o.status || row.totalCents !== o.totalCents) {
      violations.push(
        `order ${o.id}: REST says ${o.status}/${o.totalCents}, SQL ${row.status}/${row.totalCents}`,
      );
    }
  }
  const seen = new Set(rest.map((o) => o.id));
  if (seen.size !== rest.length) violations.push('an order is listed twice');
  return violations;
}
