import type { MigrationInterface, QueryRunner } from 'typeorm';
import { PaymentsCaps1767400000000 } from './1767400000000-payments-caps.js';
import { PaymentsFenceKeysBySubject1767600000000 } from './1767600000000-fence-keys-by-subject.js';

/** Accounts, holds and the ledger. The CHECKs are the invariants, enforced by the database. */
export class PaymentsSchema1767300000000 implements MigrationInterface {
  readonly name = 'PaymentsSchema1767300000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE accounts (
        customer_id text PRIMARY KEY,
        balance_cents bigint NOT NULL DEFAULT 0 CHECK (balance_cents >= 0),
        held_cents bigint NOT NULL DEFAULT 0 CHECK (held_cents >= 0),
        captured_cents bigint NOT NULL DEFAULT 0 CHECK (captured_cents >= 0),
        deposited_cents bigint NOT NULL DEFAULT 0 CHECK (deposited_cents >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT accounts_counters_balance CHECK (balance_cents + held_cents + captured_cents = deposited_cents)
      )`);
    await runner.query(`
      CREATE TABLE holds (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        order_id text NOT NULL UNIQUE,
        customer_id text NOT NULL REFERENCES accounts (customer_id),
        amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
        status text NOT NULL CHECK (status IN ('HELD', 'CAPTURED', 'RELEASED')),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await runner.query(`
      CREATE TABLE ledger (
        id bigserial PRIMARY KEY,
        customer_id text NOT NULL REFERENCES accounts (customer_id),
        order_id text,
        kind text NOT NULL CHECK (kind IN ('deposit', 'hold', 'release', 'capture', 'charge')),
        amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
        balance_after_cents bigint NOT NULL,
        held_after_cents bigint NOT NULL,
        captured_after_cents bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await runner.query('CREATE INDEX ledger_customer ON ledger (customer_id, id)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE ledger');
    await runner.query('DROP TABLE holds');
    await runner.query('DROP TABLE accounts');
  }
}

export const paymentsMigrations = [
  PaymentsSchema1767300000000,
  PaymentsCaps1767400000000,
  PaymentsFenceKeysBySubject1767600000000,
];
