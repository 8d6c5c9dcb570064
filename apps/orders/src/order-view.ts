import type { OrderLine } from '@concord/contracts';
import type { OrderMode, OrderStatus } from './order.entity.js';
import type { OrderRow } from './orders.repository.js';

/** An order as the API shows it. */
export interface OrderView {
  readonly id: string;
  readonly customerId: string;
  readonly items: readonly OrderLine[];
  readonly mode: OrderMode;
  readonly status: OrderStatus;
  /** Null until settled: prices come from inventory at reservation time. */
  readonly totalCents: number | null;
  readonly reason?: string;
  readonly transactionId: string | null;
  readonly createdAt: string;
  readonly settledAt?: string;
}

export function toView(row: OrderRow): OrderView {
  return {
    id: row.id,
    customerId: row.customerId,
    items: row.items,
    mode: row.mode,
    status: row.status,
    totalCents: row.totalCents,
    ...(row.reason === null ? {} : { reason: row.reason }),
    transactionId: row.transactionId,
    createdAt: new Date(row.createdAt).toISOString(),
    ...(row.settledAt === null ? {} : { settledAt: new Date(row.settledAt).toISOString() }),
  };
}

/** The answer to `POST /v1/orders`: 202 while PENDING; with `?wait=true`, 200 once settled. */
export interface PlacedOrder {
  readonly orderId: string;
  readonly transactionId: string | null;
  readonly status: OrderStatus;
  readonly totalCents: number | null;
  readonly reason?: string;
}

export function toPlaced(row: OrderRow): PlacedOrder {
  return {
    orderId: row.id,
    transactionId: row.transactionId,
    status: row.status,
    totalCents: row.totalCents,
    ...(row.reason === null ? {} : { reason: row.reason }),
  };
}

/**
 * What a settle message does to an order: settled orders never change, so a repeat is acknowledged, and a
 * contradicting one (a bug upstream) is acknowledged too but reported, since re-sending it cannot help.
 */
export function settleVerdict(
  current: { status: OrderStatus } | undefined,
  wanted: 'CONFIRMED' | 'CANCELLED',
): 'settle' | 'repeat' | 'conflict' | 'unknown' {
  if (current === undefined) return 'unknown';
  if (current.status === 'PENDING') return 'settle';
  return current.status === wanted ? 'repeat' : 'conflict';
}

/** Opaque cursor of a customer's order list: the last seen `seq` (pages go newest first). */
export function encodeCursor(seq: number): string {
  return Buffer.from(`o${seq}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): number | undefined {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith('o')) return undefined;
  const seq = Number(text.slice(1));
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}
