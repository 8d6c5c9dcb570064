import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The orchestrator's log: instances, steps, outbox and the leadership (fencing) row. */
export class SagaLog1767225700000 implements MigrationInterface {
  readonly name = 'SagaLog1767225700000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE saga_instance (
        id text PRIMARY KEY,
        type text NOT NULL,
        mode text NOT NULL CHECK (mode IN ('saga', '2pc')),
        status text NOT NULL,
        input jsonb NOT NULL,
        state jsonb NOT NULL,
        reason text,
        idempotency_key text UNIQUE,
        request_hash text NOT NULL,
        fencing_token bigint NOT NULL,
        version integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await runner.query('CREATE INDEX saga_instance_status ON saga_instance (status, type, created_at)');
    await runner.query(`
      CREATE TABLE saga_step (
        id bigserial PRIMARY KEY,
        saga_id text NOT NULL REFERENCES saga_instance (id),
        key text NOT NULL,
        step text NOT NULL,
        subject text NOT NULL,
        message_id text NOT NULL,
        status text NOT NULL,
        reply jsonb,
        attempts integer NOT NULL DEFAULT 0,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        UNIQUE (saga_id, key)
      )`);
    await runner.query(`
      CREATE TABLE saga_outbox (
        id bigserial PRIMARY KEY,
        event_id text NOT NULL UNIQUE,
        subject text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      )`);
    await runner.query('CREATE INDEX saga_outbox_unpublished ON saga_outbox (id) WHERE published_at IS NULL');
    await runner.query(`
      CREATE TABLE saga_leadership (
        id integer PRIMARY KEY CHECK (id = 1),
        fencing_token bigint NOT NULL,
        holder text,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await runner.query('INSERT INTO saga_leadership (id, fencing_token) VALUES (1, 0)');
  }

  async down(runner: QueryRunner): Promise<void> {
    for (const table of ['saga_leadership', 'saga_outbox', 'saga_step', 'saga_instance']) {
      await runner.query(`DROP TABLE ${table}`);
    }
  }
}

/** The W3C `traceparent` of an instance's span, so that a run resumed after a crash continues the same trace. */
export class SagaTraceContext1767600000000 implements MigrationInterface {
  readonly name = 'SagaTraceContext1767600000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE saga_instance ADD COLUMN trace_context text');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE saga_instance DROP COLUMN trace_context');
  }
}

export const orchestratorMigrations = [SagaLog1767225700000, SagaTraceContext1767600000000];
