import { SingletonFences1767500000000 } from '@concord/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { OrdersIdempotencyPerCustomer1767400000000 } from './1767400000000-orders-idempotency-per-customer.js';

/** Orders, with the columns the re-send sweeper and cursor pagination need. */
export class OrdersSchema1767300000000 implements MigrationInterface {
  readonly name = 'OrdersSchema1767300000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE orders (
        id uuid PRIMARY KEY,
        seq bigserial NOT NULL UNIQUE,
        customer_id text NOT NULL,
        items jsonb NOT NULL,
        mode text NOT NULL CHECK (mode IN ('saga', '2pc')),
        status text NOT NULL CHECK (status IN ('PENDING', 'CONFIRMED', 'CANCELLED')),
        reason text,
        total_cents bigint CHECK (total_cents >= 0),
        transaction_id text,
        idempotency_key text UNIQUE,
        start_attempts integer NOT NULL DEFAULT 0,
        last_start_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        settled_at timestamptz,
        CONSTRAINT orders_cancelled_have_reason CHECK (status <> 'CANCELLED' OR reason IS NOT NULL)
      )`);
    await runner.query('CREATE INDEX orders_customer_seq ON orders (customer_id, seq DESC)');
    // The sweeper scans only PENDING orders, oldest start first.
    await runner.query(
      `CREATE INDEX orders_pending_start ON orders (last_start_at) WHERE status = 'PENDING'`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE orders');
  }
}

export const ordersMigrations = [
  OrdersSchema1767300000000,
  OrdersIdempotencyPerCustomer1767400000000,
  SingletonFences1767500000000,
];
