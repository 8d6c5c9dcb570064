import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The fencing token of the expiry job's term that released a reservation (null: released by its saga). */
export class ReservationExpiryFence1767500000001 implements MigrationInterface {
  readonly name = 'ReservationExpiryFence1767500000001';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE reservations ADD COLUMN expired_fence_token bigint');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE reservations DROP COLUMN expired_fence_token');
  }
}
