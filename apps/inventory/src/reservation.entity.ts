import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/**
 * Stock set aside for one order line. RESERVED (saga, counted in products.reserved) → SOLD (commit), RELEASED
 * (compensation) or EXPIRED (the sweeper, after expires_at). A 2PC prepare writes SOLD directly: its prepared
 * transaction is the final effect, undone only by ROLLBACK PREPARED.
 */
export type ReservationStatus = 'RESERVED' | 'SOLD' | 'RELEASED' | 'EXPIRED';

@Entity({ name: 'reservations' })
export class ReservationEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'order_id', type: 'text' })
  orderId!: string;

  @Column({ type: 'text' })
  sku!: string;

  @Column({ type: 'integer' })
  qty!: number;

  /** The price at reservation time: what the order is charged. */
  @Column({ name: 'price_cents', type: 'integer' })
  priceCents!: number;

  @Column({ type: 'text' })
  status!: ReservationStatus;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
