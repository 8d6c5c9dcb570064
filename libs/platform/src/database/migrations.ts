import type { DataSource, Migration } from 'typeorm';

/**
 * The advisory lock key every Concord service takes around its migrations. PostgreSQL scopes advisory locks to
 * the current database, and each service owns its database, so one constant key serializes exactly the instances
 * of one service. (The number is arbitrary; it only has to differ from any other advisory lock the app takes.)
 */
export const MIGRATION_LOCK_KEY = 7_243_100_001n;

/**
 * Runs the pending migrations while holding a session-level advisory lock, so that when several instances of a
 * service start at once on an empty database exactly one migrates and the others wait, then find nothing to do.
 * Without it two instances both see the migration pending and race on `CREATE TABLE` / `CREATE TYPE` (one fails
 * with a duplicate key in pg_type). The lock is held on one dedicated connection and released even on failure;
 * if the process dies, PostgreSQL releases it with the session.
 */
export async function runMigrationsExclusively(dataSource: DataSource): Promise<Migration[]> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      return await dataSource.runMigrations({ transaction: 'all' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]);
    }
  } finally {
    await runner.release();
  }
}
