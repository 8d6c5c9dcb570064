import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { OrderLine } from '@concord/contracts';

/** PENDING until the orchestrator settles it: CONFIRMED, or CANCELLED with a reason. Settled orders never change. */
export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'CANCELLED';
export type OrderMode = 'saga' | '2pc';

@Entity({ name: 'orders' })
export class OrderEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  /** Insertion order: the key of cursor pagination (exact, unlike timestamps). */
  @Column({ type: 'bigint', generated: 'increment' })
  seq!: string;

  @Column({ name: 'customer_id', type: 'text' })
  customerId!: string;

  @Column({ type: 'jsonb' })
  items!: OrderLine[];

  @Column({ type: 'text' })
  mode!: OrderMode;

  @Column({ type: 'text' })
  status!: OrderStatus;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  /** Known once settled: prices come from inventory at reservation time. */
  @Column({ name: 'total_cents', type: 'bigint', nullable: true })
  totalCents!: string | null;

  /** The orchestrator's id, once `orchestrator.start` has answered. */
  @Column({ name: 'transaction_id', type: 'text', nullable: true })
  transactionId!: string | null;

  /** A client's Idempotency-Key: a repeated POST answers the first order. */
  /** Unique per customer (with customer_id); `request_hash` refuses its reuse for a different request. */
  @Column({ name: 'idempotency_key', type: 'text', nullable: true })
  idempotencyKey!: string | null;

  @Column({ name: 'request_hash', type: 'text', nullable: true })
  requestHash!: string | null;

  @Column({ name: 'start_attempts', type: 'integer' })
  startAttempts!: number;

  @Column({ name: 'last_start_at', type: 'timestamptz' })
  lastStartAt!: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'settled_at', type: 'timestamptz', nullable: true })
  settledAt!: Date | null;
}
