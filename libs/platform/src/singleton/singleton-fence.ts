import type { MigrationInterface, QueryRunner } from 'typeorm';
import { StaleFencingTokenError, type JobFence } from './singleton-job.js';

/**
 * The fence every singleton job's writes pass through, in the job's own database: one row per job holding the
 * largest fencing token seen, and `singleton_fence(job, token, holder)`, which raises `stale fencing token`
 * (SQLSTATE CF001) when the token is older, and otherwise records it and takes the row lock until the end of
 * the transaction. Calling it first in the transaction that makes a job's writes makes PostgreSQL itself refuse
 * a stale holder: a newer holder's claim waits on the row lock for an older holder's transaction in flight, and
 * after it commits no transaction with the older token can pass.
 */
export class SingletonFences1767500000000 implements MigrationInterface {
  readonly name = 'SingletonFences1767500000000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query(`
      CREATE TABLE singleton_fences (
        job text PRIMARY KEY,
        token bigint NOT NULL CHECK (token >= 0),
        holder text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await runner.query(`
      CREATE FUNCTION singleton_fence(p_job text, p_token bigint, p_holder text) RETURNS bigint
      LANGUAGE plpgsql AS $$
      DECLARE seen bigint;
      BEGIN
        INSERT INTO singleton_fences (job, token, holder) VALUES (p_job, p_token, p_holder)
          ON CONFLICT (job) DO NOTHING;
        SELECT token INTO seen FROM singleton_fences WHERE job = p_job FOR UPDATE;
        IF p_token < seen THEN
          RAISE EXCEPTION 'stale fencing token % for job % (% seen)', p_token, p_job, seen
            USING ERRCODE = 'CF001';
        END IF;
        UPDATE singleton_fences SET token = p_token, holder = p_holder, updated_at = now()
          WHERE job = p_job AND (token <> p_token OR holder <> p_holder);
        RETURN p_token;
      END $$`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP FUNCTION singleton_fence(text, bigint, text)');
    await runner.query('DROP TABLE singleton_fences');
  }
}

/** Anything that runs SQL in the caller's transaction (a TypeORM EntityManager or QueryRunner). */
export interface SqlRunner {
  query(sql: string, parameters?: unknown[]): Promise<unknown>;
}

/**
 * Passes the fence in the caller's transaction, or throws {@link StaleFencingTokenError} (the transaction is
 * then aborted: roll it back). Call it before the job's first write in every transaction it makes.
 */
export async function passFence(sql: SqlRunner, fence: JobFence): Promise<void> {
  try {
    await sql.query('SELECT singleton_fence($1, $2, $3)', [fence.job, fence.token, fence.holder]);
  } catch (error) {
    const e = error as { code?: string; driverError?: { code?: string }; message?: string };
    if (e.code === 'CF001' || e.driverError?.code === 'CF001')
      throw new StaleFencingTokenError(fence, e.message ?? 'stale');
    throw error;
  }
}
