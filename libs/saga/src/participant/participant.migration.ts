import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Inbox, fence and prepared-reply tables of the participant kit (see participant.entities.ts). */
export class SagaParticipant1767225600000 implements MigrationInterface {
  readonly name = 'SagaParticipant1767225600000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE saga_inbox (
        message_id text PRIMARY KEY,
        transaction_id text NOT NULL,
        step text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('action', 'compensation', 'prepare')),
        reply jsonb,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await runner.query(`CREATE INDEX saga_inbox_transaction ON saga_inbox (transaction_id, step)`);
    await runner.query(`
      CREATE TABLE saga_fence (
        transaction_id text NOT NULL,
        step text NOT NULL,
        status text NOT NULL CHECK (status IN ('tried', 'compensated', 'suspended')),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (transaction_id, step)
      )`);
    await runner.query(`
      CREATE TABLE saga_prepared_reply (
        gid text PRIMARY KEY,
        message_id text NOT NULL,
        reply jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE saga_prepared_reply');
    await runner.query('DROP TABLE saga_fence');
    await runner.query('DROP TABLE saga_inbox');
  }
}

export const participantMigrations = [SagaParticipant1767225600000];
