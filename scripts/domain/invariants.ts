import pg from 'pg';

/**
 * The domain's invariants, checked over a snapshot of the three services' databases (issue 7):
 * - every account: balance + held + captured = deposited, each >= 0;
 * - every product: stock + reserved + sold = received, each >= 0, and received = the sum of its receipts;
 * - once every order is settled: nothing held, nothing reserved, no prepared transaction left;
 * - a CONFIRMED order has exactly one capture (of its total) and all its reservations sold, for its items;
 * - a CANCELLED order has neither a capture nor a hold, and no reservation sold or open.
 * `checkInvariants` is pure (tested on hand-made snapshots); `readSnapshot` reads the databases.
 */

export interface ProductRow {
  sku: string;
  stock: number;
  reserved: number;
  sold: number;
  received: number;
  receiptsQty: number;
}
export interface ReservationRow {
  orderId: string;
  sku: string;
  qty: number;
  priceCents: number;
  status: 'RESERVED' | 'SOLD' | 'RELEASED' | 'EXPIRED';
}
export interface AccountRow {
  customerId: string;
  balanceCents: number;
  heldCents: number;
  capturedCents: number;
  depositedCents: number;
}
export interface HoldRow {
  orderId: string;
  customerId: string;
  amountCents: number;
  status: 'HELD' | 'CAPTURED' | 'RELEASED';
}
export interface OrderRow {
  id: string;
  customerId: string;
  items: Array<{ sku: string; qty: number }>;
  status: 'PENDING' | 'CONFIRMED' | 'CANCELLED';
  totalCents: number | null;
}

export interface DomainSnapshot {
  products: ProductRow[];
  reservations: ReservationRow[];
  accounts: AccountRow[];
  holds: HoldRow[];
  orders: OrderRow[];
  /** gids of prepared transactions left in the inventory and payments databases. */
  preparedGids: string[];
}

export function checkInvariants(s: DomainSnapshot): string[] {
  const violations: string[] = [];
  const fail = (message: string): number => violations.push(message);

  for (const a of s.accounts) {
    if (Math.min(a.balanceCents, a.heldCents, a.capturedCents, a.depositedCents) < 0) {
      fail(`account ${a.customerId}: a counter is negative (${JSON.stringify(a)})`);
    }
    if (a.balanceCents + a.heldCents + a.capturedCents !== a.depositedCents) {
      fail(`account ${a.customerId}: balance + held + captured != deposited (${JSON.stringify(a)})`);
    }
  }
  for (const p of s.products) {
    if (Math.min(p.stock, p.reserved, p.sold, p.received) < 0)
      fail(`product ${p.sku}: a counter is negative`);
    if (p.stock + p.reserved + p.sold !== p.received) {
      fail(`product ${p.sku}: stock + reserved + sold != received (${JSON.stringify(p)})`);
    }
    if (p.received !== p.receiptsQty)
      fail(`product ${p.sku}: received ${p.received} != receipts ${p.receiptsQty}`);
  }

  // Counters agree with the rows that explain them.
  const sum = <T>(rows: T[], f: (row: T) => number): number => rows.reduce((n, r) => n + f(r), 0);
  for (const a of s.accounts) {
    const holds = s.holds.filter((h) => h.customerId === a.customerId);
    const held = sum(
      holds.filter((h) => h.status === 'HELD'),
      (h) => h.amountCents,
    );
    const captured = sum(
      holds.filter((h) => h.status === 'CAPTURED'),
      (h) => h.amountCents,
    );
    if (held !== a.heldCents) fail(`account ${a.customerId}: held ${a.heldCents} != open holds ${held}`);
    if (captured !== a.capturedCents)
      fail(`account ${a.customerId}: captured ${a.capturedCents} != captures ${captured}`);
  }
  for (const p of s.products) {
    const lines = s.reservations.filter((r) => r.sku === p.sku);
    const reserved = sum(
      lines.filter((r) => r.status === 'RESERVED'),
      (r) => r.qty,
    );
    const sold = sum(
      lines.filter((r) => r.status === 'SOLD'),
      (r) => r.qty,
    );
    if (reserved !== p.reserved)
      fail(`product ${p.sku}: reserved ${p.reserved} != open reservations ${reserved}`);
    if (sold !== p.sold) fail(`product ${p.sku}: sold ${p.sold} != sold reservations ${sold}`);
  }

  const settled = s.orders.every((o) => o.status !== 'PENDING');
  if (settled) {
    for (const h of s.holds) if (h.status === 'HELD') fail(`all settled, yet order ${h.orderId} holds money`);
    for (const r of s.reservations) {
      if (r.status === 'RESERVED') fail(`all settled, yet order ${r.orderId} reserves ${r.sku}`);
    }
    for (const gid of s.preparedGids) fail(`all settled, yet prepared transaction ${gid} is left`);
  }

  for (const o of s.orders) {
    const captures = s.holds.filter((h) => h.orderId === o.id && h.status === 'CAPTURED');
    const open = s.holds.filter((h) => h.orderId === o.id && h.status === 'HELD');
    const lines = s.reservations.filter((r) => r.orderId === o.id);
    if (o.status === 'CONFIRMED') {
      if (captures.length !== 1) fail(`confirmed order ${o.id} has ${captures.length} captures`);
      else if (captures[0]?.amountCents !== o.totalCents) {
        fail(`confirmed order ${o.id}: captured ${captures[0]?.amountCents} != total ${o.totalCents}`);
      }
      if (lines.length === 0 || lines.some((r) => r.status !== 'SOLD')) {
        fail(
          `confirmed order ${o.id}: reservations not all sold (${lines.map((r) => r.status).join(',') || 'none'})`,
        );
      }
      const priced = sum(lines, (r) => r.qty * r.priceCents);
      if (priced !== o.totalCents)
        fail(`confirmed order ${o.id}: lines cost ${priced} != total ${o.totalCents}`);
      const wanted = new Map<string, number>();
      for (const item of o.items) wanted.set(item.sku, (wanted.get(item.sku) ?? 0) + item.qty);
      const got = new Map(lines.map((r) => [r.sku, r.qty]));
      if (wanted.size !== got.size || [...wanted].some(([sku, qty]) => got.get(sku) !== qty)) {
        fail(`confirmed order ${o.id}: sold lines differ from its items`);
      }
    }
    if (o.status === 'CANCELLED') {
      if (captures.length > 0 || open.length > 0) fail(`cancelled order ${o.id} has a capture or a hold`);
      if (lines.some((r) => r.status === 'SOLD' || r.status === 'RESERVED')) {
        fail(`cancelled order ${o.id} has reservations sold or open`);
      }
    }
  }
  return violations;
}

export interface DatabaseUrls {
  readonly orders: string;
  readonly inventory: string;
  readonly payments: string;
}

/** Reads a snapshot. Each database is read in one REPEATABLE READ transaction (a consistent view of it). */
export async function readSnapshot(urls: DatabaseUrls): Promise<DomainSnapshot> {
  const inventory = await inOneView(urls.inventory, async (q) => ({
    products: await q<ProductRow>(
      `SELECT p.sku, p.stock::float8 AS stock, p.reserved::float8 AS reserved, p.sold::float8 AS sold,
              p.received::float8 AS received,
              coalesce((SELECT sum(qty) FROM receipts r WHERE r.sku = p.sku), 0)::float8 AS "receiptsQty"
       FROM products p`,
    ),
    reservations: await q<ReservationRow>(
      `SELECT order_id AS "orderId", sku, qty, price_cents AS "priceCents", status FROM reservations`,
    ),
    prepared: await q<{ gid: string }>(
      'SELECT gid FROM pg_prepared_xacts WHERE database = current_database()',
    ),
  }));
  const payments = await inOneView(urls.payments, async (q) => ({
    accounts: await q<AccountRow>(
      `SELECT customer_id AS "customerId", balance_cents::float8 AS "balanceCents", held_cents::float8 AS "heldCents",
              captured_cents::float8 AS "capturedCents", deposited_cents::float8 AS "depositedCents" FROM accounts`,
    ),
    holds: await q<HoldRow>(
      `SELECT order_id AS "orderId", customer_id AS "customerId", amount_cents::float8 AS "amountCents", status
       FROM holds`,
    ),
    prepared: await q<{ gid: string }>(
      'SELECT gid FROM pg_prepared_xacts WHERE database = current_database()',
    ),
  }));
  const orders = await inOneView(urls.orders, (q) =>
    q<OrderRow>(
      `SELECT id, customer_id AS "customerId", items, status, total_cents::float8 AS "totalCents" FROM orders`,
    ),
  );
  return {
    products: inventory.products,
    reservations: inventory.reservations,
    accounts: payments.accounts,
    holds: payments.holds,
    orders,
    preparedGids: [...inventory.prepared, ...payments.prepared].map((row) => row.gid),
  };
}

type Query = <T>(sql: string) => Promise<T[]>;

async function inOneView<T>(url: string, read: (q: Query) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const result = await read(async <R>(sql: string) => (await client.query(sql)).rows as R[]);
    await client.query('COMMIT');
    return result;
  } finally {
    await client.end();
  }
}
