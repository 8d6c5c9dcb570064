import { Injectable } from '@nestjs/common';
import type { OrderLine, PricedLine } from '@concord/contracts';
import { ParticipantRepository, selectRows as rows } from '@concord/saga';
import type { EntityManager } from 'typeorm';
import type { ReservationStatus } from './reservation.entity.js';
import type { ProductView } from './stock.js';
import { RECEIVED_MAX } from './migrations/1767400000000-inventory-bigint-counters.js';

/** A reservation line as the service sees it. */
export interface ReservationRow {
  readonly orderId: string;
  readonly sku: string;
  readonly qty: number;
  readonly priceCents: number;
  readonly status: ReservationStatus;
}

// Counters are bigint under a cumulative cap (RECEIVED_MAX < 2^53), so float8 carries them exactly.
const productColumns = `sku, name, price_cents AS "priceCents", stock::float8 AS stock, reserved::float8 AS reserved,
  sold::float8 AS sold, received::float8 AS received`;
const reservationColumns = `order_id AS "orderId", sku, qty, price_cents AS "priceCents", status`;

/**
 * The only class that touches the inventory database. Every method takes the EntityManager of the transaction
 * it runs in (the participant kit's, or one from {@link transaction}). Counter changes are single conditional
 * UPDATEs, so "stock never negative" holds without a read-modify-write race; the table's CHECKs back them up.
 */
@Injectable()
export class InventoryRepository extends ParticipantRepository {
  async findProduct(em: EntityManager, sku: string, lock = false): Promise<ProductView | undefined> {
    const found = await rows<ProductView>(
      em,
      `SELECT ${productColumns} FROM products WHERE sku = $1${lock ? ' FOR UPDATE' : ''}`,
      [sku],
    );
    return found[0];
  }

  /** Products in sku order, after `afterSku` (exclusive). */
  listProducts(em: EntityManager, afterSku: string | undefined, limit: number): Promise<ProductView[]> {
    return rows<ProductView>(
      em,
      `SELECT ${productColumns} FROM products WHERE ($1::text IS NULL OR sku > $1) ORDER BY sku LIMIT $2`,
      [afterSku ?? null, limit],
    );
  }

  /** Inserts a product whose initial stock is its first receipt; undefined when the sku exists. */
  async insertProduct(
    em: EntityManager,
    product: { sku: string; name: string; priceCents: number; stock: number },
  ): Promise<ProductView | undefined> {
    const inserted = await rows<ProductView>(
      em,
      `INSERT INTO products (sku, name, price_cents, stock, reserved, sold, received)
       VALUES ($1, $2, $3, $4, 0, 0, $4) ON CONFLICT (sku) DO NOTHING RETURNING ${productColumns}`,
      [product.sku, product.name, product.priceCents, product.stock],
    );
    if (inserted[0] !== undefined && product.stock > 0)
      await this.insertReceipt(em, product.sku, product.stock);
    return inserted[0];
  }

  /** Adds `qty` to stock and received; undefined when the sku does not exist or the cap would be passed. */
  async receive(em: EntityManager, sku: string, qty: number): Promise<ProductView | undefined> {
    const updated = await rows<ProductView>(
      em,
      `WITH u AS (UPDATE products SET stock = stock + $2, received = received + $2, updated_at = now()
                  WHERE sku = $1 AND received + $2 <= ${RECEIVED_MAX} RETURNING ${productColumns})
       SELECT * FROM u`,
      [sku, qty],
    );
    if (updated[0] !== undefined) await this.insertReceipt(em, sku, qty);
    return updated[0];
  }

  private async insertReceipt(em: EntityManager, sku: string, qty: number): Promise<void> {
    await em.query('INSERT INTO receipts (sku, qty) VALUES ($1, $2)', [sku, qty]);
  }

  /**
   * Moves `qty` from stock to `into` (reserved, or sold for a 2PC prepare) if the stock suffices.
   * Answers the price at this moment, or undefined when the sku is unknown or the stock too low.
   */
  async takeStock(
    em: EntityManager,
    sku: string,
    qty: number,
    into: 'reserved' | 'sold',
  ): Promise<{ priceCents: number } | undefined> {
    const taken = await rows<{ priceCents: number }>(
      em,
      `WITH u AS (UPDATE products SET stock = stock - $2, ${into} = ${into} + $2, updated_at = now()
                  WHERE sku = $1 AND stock >= $2 RETURNING price_cents AS "priceCents")
       SELECT * FROM u`,
      [sku, qty],
    );
    return taken[0];
  }

  /**
   * The work of a reserve (or a 2PC sale) in one statement: unless the order has reservations already, moves each
   * line's qty from stock to `into` where the stock covers it, and records the lines taken with `status`. Products
   * are locked in sku order first, as every writer of several products does, so orders over the same skus cannot
   * deadlock. Answers the order's earlier reservations (a repeat), or the lines taken: fewer than asked means a
   * line was short (or unknown), and the caller refuses, which rolls the others back.
   */
  async takeLines(
    em: EntityManager,
    orderId: string,
    lines: readonly OrderLine[],
    into: 'reserved' | 'sold',
    expiresAtMs: number,
  ): Promise<{ earlier: ReservationRow[] } | { taken: PricedLine[] }> {
    const status: ReservationStatus = into === 'reserved' ? 'RESERVED' : 'SOLD';
    const found = await rows<ReservationRow & { repeat: boolean }>(
      em,
      `WITH earlier AS (SELECT ${reservationColumns} FROM reservations WHERE order_id = $1),
            wanted AS (SELECT sku, qty FROM unnest($2::text[], $3::integer[]) AS w (sku, qty)
                       WHERE NOT EXISTS (SELECT 1 FROM earlier)),
            locked AS MATERIALIZED (SELECT sku FROM products WHERE sku IN (SELECT sku FROM wanted)
                                    ORDER BY sku FOR UPDATE),
            taken AS (UPDATE products p SET stock = p.stock - w.qty, ${into} = p.${into} + w.qty, updated_at = now()
                      FROM wanted w
                      WHERE p.sku = w.sku AND p.sku IN (SELECT sku FROM locked) AND p.stock >= w.qty
                      RETURNING p.sku, w.qty, p.price_cents),
            recorded AS (INSERT INTO reservations (order_id, sku, qty, price_cents, status, expires_at)
                         SELECT $1, sku, qty, price_cents, $4, to_timestamp($5::double precision / 1000) FROM taken)
       SELECT "orderId", sku, qty, "priceCents", status, true AS repeat FROM earlier
       UNION ALL SELECT $1, sku, qty, price_cents, $4, false FROM taken
       ORDER BY sku`,
      [orderId, lines.map((line) => line.sku), lines.map((line) => line.qty), status, expiresAtMs],
    );
    if (found.some((row) => row.repeat)) return { earlier: found.map(({ repeat: _, ...row }) => row) };
    return { taken: found.map(({ sku, qty, priceCents }) => ({ sku, qty, priceCents })) };
  }

  /**
   * Ends the order's open (RESERVED) reservations with status `to` and moves their quantities out of
   * products.reserved: back to stock (RELEASED, EXPIRED) or on to sold (SOLD), in one statement (products locked in
   * sku order). Answers every line of the order, with its status after this and whether this ended it.
   */
  async endOpenReservations(
    em: EntityManager,
    orderId: string,
    to: 'SOLD' | 'RELEASED' | 'EXPIRED',
  ): Promise<Array<ReservationRow & { ended: boolean }>> {
    const counter = to === 'SOLD' ? 'sold' : 'stock';
    return rows<ReservationRow & { ended: boolean }>(
      em,
      `WITH ended AS (UPDATE reservations SET status = $2, updated_at = now()
                      WHERE order_id = $1 AND status = 'RESERVED' RETURNING id, sku, qty),
            locked AS MATERIALIZED (SELECT sku FROM products WHERE sku IN (SELECT sku FROM ended)
                                    ORDER BY sku FOR UPDATE),
            moved AS (UPDATE products p SET reserved = p.reserved - e.qty, ${counter} = p.${counter} + e.qty,
                                            updated_at = now()
                      FROM (SELECT sku, sum(qty) AS qty FROM ended GROUP BY sku) e
                      WHERE p.sku = e.sku AND p.sku IN (SELECT sku FROM locked))
       SELECT r.order_id AS "orderId", r.sku, r.qty, r.price_cents AS "priceCents",
              CASE WHEN e.id IS NULL THEN r.status ELSE $2 END AS status, e.id IS NOT NULL AS ended
       FROM reservations r LEFT JOIN ended e ON e.id = r.id
       WHERE r.order_id = $1 ORDER BY r.sku`,
      [orderId, to],
    );
  }

  /** Changes one reservation line's status from `from` to `to`; false when it was not in `from`. */
  async setReservationStatus(
    em: EntityManager,
    orderId: string,
    sku: string,
    from: ReservationStatus,
    to: ReservationStatus,
  ): Promise<boolean> {
    const changed = await rows<{ sku: string }>(
      em,
      `WITH u AS (UPDATE reservations SET status = $4, updated_at = now()
                  WHERE order_id = $1 AND sku = $2 AND status = $3 RETURNING sku)
       SELECT * FROM u`,
      [orderId, sku, from, to],
    );
    return changed.length > 0;
  }

  /**
   * Expires up to `limit` open reservations whose expiry is at or before `nowMs`, skipping rows another
   * instance's sweeper (or a commit) holds. Answers how many lines expired.
   */
  async expireDue(
    em: EntityManager,
    nowMs: number,
    limit: number,
    fencingToken: number,
  ): Promise<OrderLine[]> {
    const expired = await rows<OrderLine>(
      em,
      `WITH due AS (SELECT id FROM reservations
                    WHERE status = 'RESERVED' AND expires_at <= to_timestamp($1::double precision / 1000)
                    ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED),
            u AS (UPDATE reservations r SET status = 'EXPIRED', expired_fence_token = $3, updated_at = now()
                  FROM due WHERE r.id = due.id
                  RETURNING r.sku, r.qty)
       SELECT sku, sum(qty)::integer AS qty FROM u GROUP BY sku ORDER BY sku`,
      [nowMs, limit, fencingToken],
    );
    await this.moveReserved(em, expired, 'stock');
    return expired;
  }

  /** Lines must be sorted by sku (lock order). */
  private async moveReserved(
    em: EntityManager,
    lines: readonly OrderLine[],
    to: 'stock' | 'sold',
  ): Promise<void> {
    for (const line of lines) {
      await em.query(
        `UPDATE products SET reserved = reserved - $2, ${to} = ${to} + $2, updated_at = now() WHERE sku = $1`,
        [line.sku, line.qty],
      );
    }
  }
}
