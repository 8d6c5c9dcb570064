import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { DataSource, type EntityManager } from 'typeorm';
import type {
  CommandEnvelope,
  HoldFunds,
  OrderLine,
  PricedLine,
  Prepare,
  Reply,
  ReserveStock,
  SettleOrder,
} from '@concord/contracts';
import { Participant, participantEntities, participantMigrations } from '@concord/saga';

/**
 * Small inventory, payments and orders participants built on the real participant kit, each on its own
 * database, answering over NATS in the wire format of `@nestjs/microservices`. They let the orchestrator be
 * tested (and benchmarked) before and beside the real domain services, with faults injected per subject.
 */

export interface SubjectFaults {
  /** Swallow this many requests (no reply), as a lost message would. */
  dropFirst?: number;
  /** Never answer. */
  never?: boolean;
  /** Run the handler twice per request (a duplicate delivery). */
  duplicate?: boolean;
}

export interface ToyDatabases {
  inventory: string;
  payments: string;
  orders: string;
}

const schema = {
  inventory: [
    `CREATE TABLE IF NOT EXISTS product (sku text PRIMARY KEY, price_cents integer NOT NULL,
       stock integer NOT NULL CHECK (stock >= 0), reserved integer NOT NULL DEFAULT 0, sold integer NOT NULL DEFAULT 0,
       received integer NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS reservation (order_id text NOT NULL, sku text NOT NULL, qty integer NOT NULL,
       status text NOT NULL, PRIMARY KEY (order_id, sku))`,
  ],
  payments: [
    `CREATE TABLE IF NOT EXISTS account (customer_id text PRIMARY KEY, balance_cents integer NOT NULL CHECK (balance_cents >= 0),
       held_cents integer NOT NULL DEFAULT 0, captured_cents integer NOT NULL DEFAULT 0, deposited_cents integer NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS hold (order_id text PRIMARY KEY, customer_id text NOT NULL, amount_cents integer NOT NULL,
       status text NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS capture_log (order_id text NOT NULL, amount_cents integer NOT NULL)`,
  ],
  orders: [`CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, status text NOT NULL, reason text)`],
};

async function openDatabase(url: string, ddl: readonly string[], poolSize: number): Promise<DataSource> {
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    entities: participantEntities,
    migrations: participantMigrations,
    poolSize,
  });
  await dataSource.initialize();
  await dataSource.runMigrations();
  for (const statement of ddl) await dataSource.query(statement);
  return dataSource;
}

const ok = <R>(result: R): Reply<R> => ({ ok: true, result });
const refuse = (reason: string): Reply<never> => ({ ok: false, reason });

async function reserve(em: EntityManager, orderId: string, items: readonly OrderLine[], final: boolean) {
  const lines: PricedLine[] = [];
  // Sorted, so that concurrent orders lock products in one order and never deadlock.
  for (const item of [...items].sort((a, b) => a.sku.localeCompare(b.sku))) {
    const rows = await em.query<[Array<{ price_cents: number }>, number]>(
      final
        ? `UPDATE product SET stock = stock - $2, sold = sold + $2 WHERE sku = $1 AND stock >= $2 RETURNING price_cents`
        : `UPDATE product SET stock = stock - $2, reserved = reserved + $2 WHERE sku = $1 AND stock >= $2 RETURNING price_cents`,
      [item.sku, item.qty],
    );
    const price = rows[0][0]?.price_cents;
    if (price === undefined) return refuse(`out of stock: ${item.sku}`);
    await em.query('INSERT INTO reservation (order_id, sku, qty, status) VALUES ($1, $2, $3, $4)', [
      orderId,
      item.sku,
      item.qty,
      final ? 'sold' : 'reserved',
    ]);
    lines.push({ ...item, priceCents: price });
  }
  return ok({ lines, totalCents: lines.reduce((sum, l) => sum + l.qty * l.priceCents, 0) });
}

async function hold(em: EntityManager, payload: HoldFunds, final: boolean) {
  const rows = await em.query<[unknown[], number]>(
    final
      ? `UPDATE account SET balance_cents = balance_cents - $2, captured_cents = captured_cents + $2
         WHERE customer_id = $1 AND balance_cents >= $2 RETURNING customer_id`
      : `UPDATE account SET balance_cents = balance_cents - $2, held_cents = held_cents + $2
         WHERE customer_id = $1 AND balance_cents >= $2 RETURNING customer_id`,
    [payload.customerId, payload.amountCents],
  );
  if (rows[0].length === 0) return refuse('insufficient funds');
  await em.query('INSERT INTO hold (order_id, customer_id, amount_cents, status) VALUES ($1, $2, $3, $4)', [
    payload.orderId,
    payload.customerId,
    payload.amountCents,
    final ? 'captured' : 'held',
  ]);
  if (final)
    await em.query('INSERT INTO capture_log (order_id, amount_cents) VALUES ($1, $2)', [
      payload.orderId,
      payload.amountCents,
    ]);
  return ok({ holdId: payload.orderId });
}

type Handler = (env: never) => Promise<Reply<unknown>>;

export class ToyParticipants {
  readonly faults = new Map<string, SubjectFaults>();
  private readonly subscriptions: Subscription[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly participants: Participant[] = [];

  private constructor(
    readonly inventory: DataSource,
    readonly payments: DataSource,
    readonly orders: DataSource,
  ) {}

  /** Opens the three databases (creating the toy schema); `poolSize` connections each (default 12). */
  static async open(urls: ToyDatabases, poolSize = 12): Promise<ToyParticipants> {
    return new ToyParticipants(
      await openDatabase(urls.inventory, schema.inventory, poolSize),
      await openDatabase(urls.payments, schema.payments, poolSize),
      await openDatabase(urls.orders, schema.orders, poolSize),
    );
  }

  async addProduct(sku: string, priceCents: number, stock: number): Promise<void> {
    await this.inventory.query(
      'INSERT INTO product (sku, price_cents, stock, received) VALUES ($1, $2, $3, $3)',
      [sku, priceCents, stock],
    );
  }

  async addAccount(customerId: string, depositCents: number): Promise<void> {
    await this.payments.query(
      'INSERT INTO account (customer_id, balance_cents, deposited_cents) VALUES ($1, $2, $2)',
      [customerId, depositCents],
    );
  }

  /**
   * Subscribes every participant subject in its service's queue group on `nc`; with `only`, the subjects of
   * that one service (the benchmark runs each service in its own process).
   */
  listen(nc: NatsConnection, only?: keyof ToyDatabases): void {
    const inventory = new Participant(this.inventory, { service: 'inventory' });
    const payments = new Participant(this.payments, { service: 'payments' });
    const orders = new Participant(this.orders, { service: 'orders' });
    this.participants.push(inventory, payments, orders);
    const handlers: Record<string, Handler> = {
      'inventory.reserve': (env: CommandEnvelope<ReserveStock>) =>
        inventory.action(env, 'inventory.reserve', (em) =>
          reserve(em, env.payload.orderId, env.payload.items, false),
        ),
      'inventory.release': (env: CommandEnvelope<{ orderId: string }>) =>
        inventory.compensation(env, 'inventory.reserve', async (em) => {
          await em.query(
            `UPDATE product p SET stock = p.stock + r.qty, reserved = p.reserved - r.qty
             FROM reservation r WHERE r.order_id = $1 AND r.sku = p.sku AND r.status = 'reserved'`,
            [env.payload.orderId],
          );
          await em.query(
            `UPDATE reservation SET status = 'released' WHERE order_id = $1 AND status = 'reserved'`,
            [env.payload.orderId],
          );
          return ok(null);
        }),
      'inventory.commit': (env: CommandEnvelope<{ orderId: string }>) =>
        inventory.action(env, 'inventory.commit', async (em) => {
          await em.query(
            `UPDATE product p SET reserved = p.reserved - r.qty, sold = p.sold + r.qty
             FROM reservation r WHERE r.order_id = $1 AND r.sku = p.sku AND r.status = 'reserved'`,
            [env.payload.orderId],
          );
          await em.query(
            `UPDATE reservation SET status = 'sold' WHERE order_id = $1 AND status = 'reserved'`,
            [env.payload.orderId],
          );
          return ok(null);
        }),
      'payments.hold': (env: CommandEnvelope<HoldFunds>) =>
        payments.action(env, 'payments.hold', (em) => hold(em, env.payload, false)),
      'payments.release': (env: CommandEnvelope<{ orderId: string }>) =>
        payments.compensation(env, 'payments.hold', async (em) => {
          await em.query(
            `UPDATE account a SET balance_cents = a.balance_cents + h.amount_cents, held_cents = a.held_cents - h.amount_cents
             FROM hold h WHERE h.order_id = $1 AND h.customer_id = a.customer_id AND h.status = 'held'`,
            [env.payload.orderId],
          );
          await em.query(`UPDATE hold SET status = 'released' WHERE order_id = $1 AND status = 'held'`, [
            env.payload.orderId,
          ]);
          return ok(null);
        }),
      'payments.capture': (env: CommandEnvelope<{ orderId: string }>) =>
        payments.action(env, 'payments.capture', async (em) => {
          const rows = await em.query<[Array<{ customer_id: string; amount_cents: number }>, number]>(
            `UPDATE hold SET status = 'captured' WHERE order_id = $1 AND status = 'held' RETURNING customer_id, amount_cents`,
            [env.payload.orderId],
          );
          for (const row of rows[0]) {
            await em.query(
              `UPDATE account SET held_cents = held_cents - $2, captured_cents = captured_cents + $2 WHERE customer_id = $1`,
              [row.customer_id, row.amount_cents],
            );
            await em.query('INSERT INTO capture_log (order_id, amount_cents) VALUES ($1, $2)', [
              env.payload.orderId,
              row.amount_cents,
            ]);
          }
          return ok(null);
        }),
      'orders.settle': (env: CommandEnvelope<SettleOrder>) =>
        orders.action(env, 'orders.settle', async (em) => {
          await em.query(
            `INSERT INTO orders (id, status, reason) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, reason = EXCLUDED.reason`,
            [env.payload.orderId, env.payload.status, env.payload.reason ?? null],
          );
          return ok(null);
        }),
      'inventory.2pc.prepare': (env: CommandEnvelope<Prepare<ReserveStock>>) =>
        inventory.prepare(env, (em) =>
          reserve(em, env.payload.operation.orderId, env.payload.operation.items, true),
        ),
      'inventory.2pc.commit': (env: CommandEnvelope<{ gid: string }>) => inventory.commitPrepared(env),
      'inventory.2pc.abort': (env: CommandEnvelope<{ gid: string }>) => inventory.abortPrepared(env),
      'payments.2pc.prepare': (env: CommandEnvelope<Prepare<HoldFunds>>) =>
        payments.prepare(env, (em) => hold(em, env.payload.operation, true)),
      'payments.2pc.commit': (env: CommandEnvelope<{ gid: string }>) => payments.commitPrepared(env),
      'payments.2pc.abort': (env: CommandEnvelope<{ gid: string }>) => payments.abortPrepared(env),
    };
    for (const [subject, handler] of Object.entries(handlers)) {
      const queue = subject.split('.')[0] ?? subject;
      if (only !== undefined && queue !== only) continue;
      const subscription = nc.subscribe(subject, {
        queue,
        callback: (error, message) => {
          if (error !== null) return;
          const work = this.handle(subject, handler, message.string()).then((answer) => {
            if (answer !== undefined) message.respond(answer);
          });
          this.inFlight.add(work);
          void work.finally(() => this.inFlight.delete(work));
        },
      });
      this.subscriptions.push(subscription);
    }
  }

  private async handle(subject: string, handler: Handler, text: string): Promise<string | undefined> {
    let packet: { id: string; data: never };
    try {
      packet = JSON.parse(text) as { id: string; data: never };
    } catch {
      return JSON.stringify({ err: 'malformed request: not JSON', isDisposed: true });
    }
    const faults = this.faults.get(subject) ?? {};
    if (faults.never === true) return undefined;
    if ((faults.dropFirst ?? 0) > 0) {
      faults.dropFirst = (faults.dropFirst ?? 0) - 1;
      return undefined;
    }
    try {
      const response = await handler(packet.data);
      if (faults.duplicate === true) await handler(packet.data);
      return JSON.stringify({ id: packet.id, response, isDisposed: true });
    } catch (error) {
      return JSON.stringify({ id: packet.id, err: (error as Error).message, isDisposed: true });
    }
  }

  /** Checks the invariants of issue 7 on the toy schema; returns the violations. */
  async invariantViolations(): Promise<string[]> {
    const violations: string[] = [];
    const products = await this.inventory.query<Array<{ sku: string }>>(
      'SELECT sku FROM product WHERE stock + reserved + sold <> received OR reserved <> 0',
    );
    for (const p of products)
      violations.push(`product ${p.sku}: stock + reserved + sold != received, or reserved left`);
    const accounts = await this.payments.query<Array<{ customer_id: string }>>(
      'SELECT customer_id FROM account WHERE balance_cents + held_cents + captured_cents <> deposited_cents OR held_cents <> 0',
    );
    for (const a of accounts)
      violations.push(`account ${a.customer_id}: balance + held + captured != deposited, or held left`);
    for (const [name, ds] of [
      ['inventory', this.inventory],
      ['payments', this.payments],
      ['orders', this.orders],
    ] as const) {
      const prepared = await ds.query<unknown[]>(
        'SELECT gid FROM pg_prepared_xacts WHERE database = current_database()',
      );
      if (prepared.length > 0) violations.push(`${name}: ${prepared.length} prepared transaction(s) left`);
    }
    return violations;
  }

  /** Per order: its status, captures and sold lines: exactly-once effects are read from here. */
  async orderEffects(orderId: string): Promise<{
    status?: string;
    reason?: string | null;
    captures: number;
    soldLines: number;
    heldLines: number;
  }> {
    const order = await this.orders.query<
      Array<{
        status: string;
        reason: string | null;
      }>
    >('SELECT status, reason FROM orders WHERE id = $1', [orderId]);
    const captures = await this.payments.query<Array<{ n: number }>>(
      'SELECT count(*)::int AS n FROM capture_log WHERE order_id = $1',
      [orderId],
    );
    const sold = await this.inventory.query<Array<{ sold: number; held: number }>>(
      `SELECT count(*) FILTER (WHERE status = 'sold')::int AS sold, count(*) FILTER (WHERE status = 'reserved')::int AS held
       FROM reservation WHERE order_id = $1`,
      [orderId],
    );
    return {
      ...(order[0] === undefined ? {} : { status: order[0].status, reason: order[0].reason }),
      captures: captures[0]?.n ?? 0,
      soldLines: sold[0]?.sold ?? 0,
      heldLines: sold[0]?.held ?? 0,
    };
  }

  async close(): Promise<void> {
    for (const s of this.subscriptions) s.unsubscribe();
    await Promise.allSettled([...this.inFlight]);
    for (const participant of this.participants) await participant.close();
    await Promise.all([this.inventory.destroy(), this.payments.destroy(), this.orders.destroy()]);
  }
}
