import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Money is bigint cents; cumulative caps keep every counter below 2^53, so it is exact in a JavaScript number. */
export const DEPOSITED_CENTS_MAX = 1_000_000_000_000_000;

/**
 * A cap on everything ever deposited into an account: balance, held and captured are parts of it (the
 * counters-balance CHECK), so all four stay within the cap, and reading them as a JavaScript number is exact.
 */
export class PaymentsCaps1767400000000 implements MigrationInterface {
  readonly name = 'PaymentsCaps1767400000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(
      `ALTER TABLE accounts ADD CONSTRAINT accounts_deposited_cap CHECK (deposited_cents <= ${DEPOSITED_CENTS_MAX})`,
    );
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE accounts DROP CONSTRAINT accounts_deposited_cap');
  }
}
