import { SingletonFences1767500000000 } from '@concord/platform';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { ReservationExpiryFence1767500000001 } from './1767500000001-reservation-expiry-fence.js';
import { InventoryBigintCounters1767400000000 } from './1767400000000-inventory-bigint-counters.js';
import { InventoryFenceKeysBySubject1767600000000 } from './1767600000000-fence-keys-by-subject.js';

/** Products with their counters, receipts and reservations. The CHECKs are the invariants, enforced by the database. */
export class InventorySchema1767300000000 implements MigrationInterface {
  readonly name = 'InventorySchema1767300000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE products (
        sku text PRIMARY KEY,
        name text NOT NULL,
        price_cents integer NOT NULL CHECK (price_cents >= 0),
        stock integer NOT NULL CHECK (stock >= 0),
        reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        sold integer NOT NULL DEFAULT 0 CHECK (sold >= 0),
        received integer NOT NULL CHECK (received >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT products_counters_balance CHECK (stock + reserved + sold = received)
      )`);
    await runner.query(`
      CREATE TABLE receipts (
        id bigserial PRIMARY KEY,
        sku text NOT NULL REFERENCES products (sku),
        qty integer NOT NULL CHECK (qty > 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await runner.query(`CREATE INDEX receipts_sku ON receipts (sku)`);
    await runner.query(`
      CREATE TABLE reservations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        order_id text NOT NULL,
        sku text NOT NULL REFERENCES products (sku),
        qty integer NOT NULL CHECK (qty > 0),
        price_cents integer NOT NULL CHECK (price_cents >= 0),
        status text NOT NULL CHECK (status IN ('RESERVED', 'SOLD', 'RELEASED', 'EXPIRED')),
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (order_id, sku)
      )`);
    // The expiry sweeper scans only open reservations.
    await runner.query(
      `CREATE INDEX reservations_open_expiry ON reservations (expires_at) WHERE status = 'RESERVED'`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE reservations');
    await runner.query('DROP TABLE receipts');
    await runner.query('DROP TABLE products');
  }
}

export const inventoryMigrations = [
  InventorySchema1767300000000,
  InventoryBigintCounters1767400000000,
  SingletonFences1767500000000,
  ReservationExpiryFence1767500000001,
  InventoryFenceKeysBySubject1767600000000,
];
