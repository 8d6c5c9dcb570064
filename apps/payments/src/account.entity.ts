import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Money columns are bigint (cents); read back as JS numbers, exact below 2^53 cents. */
const cents = {
  from: (raw: string | null) => (raw === null ? 0 : Number(raw)),
  to: (value: number) => value,
};

/**
 * A customer's account. The table's CHECKs keep balance + held + captured = deposited, each >= 0: balance is what
 * can be held, held is promised to orders in flight, captured is charged.
 */
@Entity({ name: 'accounts' })
export class AccountEntity {
  @PrimaryColumn({ name: 'customer_id', type: 'text' })
  customerId!: string;

  @Column({ name: 'balance_cents', type: 'bigint', transformer: cents })
  balanceCents!: number;

  @Column({ name: 'held_cents', type: 'bigint', transformer: cents })
  heldCents!: number;

  @Column({ name: 'captured_cents', type: 'bigint', transformer: cents })
  capturedCents!: number;

  @Column({ name: 'deposited_cents', type: 'bigint', transformer: cents })
  depositedCents!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
