import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** What happened to an account: every change of its counters writes one entry, with the counters after it. */
export type LedgerKind = 'deposit' | 'hold' | 'release' | 'capture' | 'charge';

@Entity({ name: 'ledger' })
export class LedgerEntryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'customer_id', type: 'text' })
  customerId!: string;

  @Column({ name: 'order_id', type: 'text', nullable: true })
  orderId!: string | null;

  @Column({ type: 'text' })
  kind!: LedgerKind;

  @Column({ name: 'amount_cents', type: 'bigint' })
  amountCents!: string;

  @Column({ name: 'balance_after_cents', type: 'bigint' })
  balanceAfterCents!: string;

  @Column({ name: 'held_after_cents', type: 'bigint' })
  heldAfterCents!: string;

  @Column({ name: 'captured_after_cents', type: 'bigint' })
  capturedAfterCents!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
