import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An Idempotency-Key belongs to the customer who sent it (another customer's same key is a different order), and
 * remembers a hash of the request it first came with: the same key with a different body is refused (422),
 * never silently answered with the first order.
 */
export class OrdersIdempotencyPerCustomer1767400000000 implements MigrationInterface {
  readonly name = 'OrdersIdempotencyPerCustomer1767400000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_idempotency_key_key');
    await runner.query('ALTER TABLE orders ADD COLUMN request_hash text');
    await runner.query(
      'ALTER TABLE orders ADD CONSTRAINT orders_customer_idempotency_key UNIQUE (customer_id, idempotency_key)',
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE orders DROP CONSTRAINT orders_customer_idempotency_key');
    await runner.query('ALTER TABLE orders DROP COLUMN request_hash');
    await runner.query(
      'ALTER TABLE orders ADD CONSTRAINT orders_idempotency_key_key UNIQUE (idempotency_key)',
    );
  }
}
