import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Cumulative cap on a product's `received` (stock, reserved and sold are parts of it). */
export const RECEIVED_MAX = 1_000_000_000_000;

/**
 * Counters in bigint (an integer column overflowed after 2^31 units received: a 500 instead of a refusal), under
 * a cumulative cap that keeps them exact as JavaScript numbers; receipts beyond it are refused with 422.
 */
export class InventoryBigintCounters1767400000000 implements MigrationInterface {
  readonly name = 'InventoryBigintCounters1767400000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE products
        ALTER COLUMN stock TYPE bigint,
        ALTER COLUMN reserved TYPE bigint,
        ALTER COLUMN sold TYPE bigint,
        ALTER COLUMN received TYPE bigint,
        ADD CONSTRAINT products_received_cap CHECK (received <= ${RECEIVED_MAX})`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query(`
      ALTER TABLE products
        DROP CONSTRAINT products_received_cap,
        ALTER COLUMN stock TYPE integer,
        ALTER COLUMN reserved TYPE integer,
        ALTER COLUMN sold TYPE integer,
        ALTER COLUMN received TYPE integer`);
  }
}
