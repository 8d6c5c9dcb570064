import { Injectable } from '@nestjs/common';
import type { OrderLine } from '@concord/contracts';
import { DataSource, type EntityManager } from 'typeorm';
import type { OrderMode, OrderStatus } from './order.entity.js';

/** An order as the service sees it. */
export interface OrderRow {
  readonly id: string;
  readonly seq: number;
  readonly customerId: string;
  readonly items: OrderLine[];
  readonly mode: OrderMode;
  readonly status: OrderStatus;
  readonly reason: string | null;
  readonly totalCents: number | null;
  readonly transactionId: string | null;
  readonly startAttempts: number;
  readonly createdAt: Date;
  readonly settledAt: Date | null;
}

export interface NewOrder {
  readonly id: string;
  readonly customerId: string;
  readonly items: readonly OrderLine[];
  readonly mode: OrderMode;
  readonly idempotencyKey: string | undefined;
  /** Hash of the request the key came with (see `requestHash`). */
  readonly requestHash: string;
  readonly nowMs: number;
}

const orderColumns = `id, seq::float8 AS seq, customer_id AS "customerId", items, mode, status, reason,
  total_cents::float8 AS "totalCents", transaction_id AS "transactionId", start_attempts AS "startAttempts",
  created_at AS "createdAt", settled_at AS "settledAt"`;
const at = (parameter: string) => `to_timestamp(${parameter}::double precision / 1000)`;

/** The only class that touches the orders database. */
@Injectable()
export class OrdersRepository {
  constructor(private readonly dataSource: DataSource) {}

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  /**
   * Inserts a PENDING order (its first start counts as attempted now). With an idempotency key this customer
   * already used, inserts nothing and answers the existing order with `created: false` and the hash of the
   * request that key first came with (null for orders from before hashes were kept).
   */
  async insert(
    em: EntityManager,
    order: NewOrder,
  ): Promise<{ order: OrderRow; created: boolean; requestHash: string | null }> {
    const inserted = await rows<OrderRow>(
      em,
      `INSERT INTO orders (id, customer_id, items, mode, status, idempotency_key, start_attempts, last_start_at,
                           request_hash)
       VALUES ($1, $2, $3::jsonb, $4, 'PENDING', $5, 1, ${at('$6')}, $7)
       ON CONFLICT (customer_id, idempotency_key) DO NOTHING RETURNING ${orderColumns}`,
      [
        order.id,
        order.customerId,
        JSON.stringify(order.items),
        order.mode,
        order.idempotencyKey ?? null,
        order.nowMs,
        order.requestHash,
      ],
    );
    if (inserted[0] !== undefined)
      return { order: inserted[0], created: true, requestHash: order.requestHash };
    const existing = await rows<OrderRow & { requestHash: string | null }>(
      em,
      `SELECT ${orderColumns}, request_hash AS "requestHash" FROM orders
        WHERE customer_id = $1 AND idempotency_key = $2`,
      [order.customerId, order.idempotencyKey],
    );
    const found = existing[0];
    if (found === undefined) throw new Error('idempotency key conflict without a row');
    const { requestHash, ...row } = found;
    return { order: row, created: false, requestHash };
  }

  async find(em: EntityManager, id: string): Promise<OrderRow | undefined> {
    const found = await rows<OrderRow>(em, `SELECT ${orderColumns} FROM orders WHERE id = $1`, [id]);
    return found[0];
  }

  /** A customer's orders, newest first, before `beforeSeq` (exclusive). */
  listByCustomer(
    em: EntityManager,
    customerId: string,
    beforeSeq: number | undefined,
    limit: number,
  ): Promise<OrderRow[]> {
    return rows<OrderRow>(
      em,
      `SELECT ${orderColumns} FROM orders WHERE customer_id = $1 AND ($2::bigint IS NULL OR seq < $2)
       ORDER BY seq DESC LIMIT $3`,
      [customerId, beforeSeq ?? null, limit],
    );
  }

  /** Records the orchestrator's id once; answers the order as it is now, or undefined when it already had one. */
  async setTransactionId(
    em: EntityManager,
    id: string,
    transactionId: string,
  ): Promise<OrderRow | undefined> {
    const updated = await rows<OrderRow>(
      em,
      `WITH u AS (UPDATE orders SET transaction_id = $2 WHERE id = $1 AND transaction_id IS NULL RETURNING *)
       SELECT ${orderColumns} FROM u`,
      [id, transactionId],
    );
    return updated[0];
  }

  /** Settles a PENDING order; undefined when it is not PENDING (already settled, or unknown). */
  async settle(
    em: EntityManager,
    id: string,
    settlement: {
      status: 'CONFIRMED' | 'CANCELLED';
      reason: string | null;
      totalCents: number | null;
      nowMs: number;
    },
  ): Promise<OrderRow | undefined> {
    const settled = await rows<OrderRow>(
      em,
      `WITH u AS (UPDATE orders SET status = $2, reason = $3, total_cents = $4, settled_at = ${at('$5')}
                  WHERE id = $1 AND status = 'PENDING' RETURNING *)
       SELECT ${orderColumns} FROM u`,
      [id, settlement.status, settlement.reason, settlement.totalCents, settlement.nowMs],
    );
    return settled[0];
  }

  /**
   * Claims up to `limit` PENDING orders whose last start is at or before `dueMs`: marks them started now (so
   * that other instances' sweepers skip them for a while) and answers them. SKIP LOCKED keeps sweepers apart.
   */
  claimStale(em: EntityManager, dueMs: number, nowMs: number, limit: number): Promise<OrderRow[]> {
    return rows<OrderRow>(
      em,
      `WITH due AS (SELECT id FROM orders WHERE status = 'PENDING' AND last_start_at <= ${at('$1')}
                    ORDER BY last_start_at LIMIT $3 FOR UPDATE SKIP LOCKED),
            u AS (UPDATE orders o SET last_start_at = ${at('$2')}, start_attempts = start_attempts + 1
                  FROM due WHERE o.id = due.id RETURNING o.*)
       SELECT ${orderColumns} FROM u`,
      [dueMs, nowMs, limit],
    );
  }
}

/** Rows of a statement (TypeORM answers `[rows, count]` for a bare UPDATE; statements here wrap them in WITH). */
async function rows<T>(em: EntityManager, sql: string, parameters: readonly unknown[]): Promise<T[]> {
  const result: unknown = await em.query(sql, [...parameters]);
  return result as T[];
}
