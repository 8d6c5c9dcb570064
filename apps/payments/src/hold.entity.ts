import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

/**
 * Money set aside for one order. HELD (saga, counted in accounts.held) → CAPTURED or RELEASED. A 2PC prepare writes
 * CAPTURED directly: its prepared transaction is the final effect, undone only by ROLLBACK PREPARED.
 */
export type HoldStatus = 'HELD' | 'CAPTURED' | 'RELEASED';

@Entity({ name: 'holds' })
export class HoldEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'order_id', type: 'text', unique: true })
  orderId!: string;

  @Column({ name: 'customer_id', type: 'text' })
  customerId!: string;

  @Column({ name: 'amount_cents', type: 'bigint' })
  amountCents!: string;

  @Column({ type: 'text' })
  status!: HoldStatus;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
