import type { QueryRunner } from 'typeorm';

/**
 * Re-keys a participant's fences from a workflow's step names to the subjects they guard, for a service whose
 * fences were written before the kit keyed them by subject. Call it from one of the service's own migrations
 * (the names are the service's: the kit knows none), e.g. `[['book-room', 'rooms.book']]`.
 *
 * Why in-flight data stays correct: a fence row says "this action ran" (`tried`, `compensated`) or "its
 * compensation came first" (`suspended`). Renamed in place, inside the migration's transaction, each row keeps
 * its status under the key the new code looks it up by, so a compensation arriving after the upgrade still finds
 * the action it undoes, and a late action still finds the marker that refuses it. Inbox rows are keyed by message
 * id and need nothing: a re-sent command is answered from them as before.
 *
 * The migration runs at boot, before the new instance handles a command. Instances of the old version must not
 * run against the same database after it (they would write step keys again): stop them, then start the new ones;
 * the orchestrator re-sends whatever was in flight meanwhile. A row found under both keys can only come from such
 * a mixed run and cannot be merged blindly (an action fenced under one key, its compensation under the other),
 * so the migration stops with the transactions to look at instead of guessing.
 */
export async function rekeyFences(
  runner: QueryRunner,
  renames: ReadonlyArray<readonly [stepName: string, subject: string]>,
): Promise<void> {
  if (renames.length === 0) return;
  // Nothing else writes fences while this transaction holds the table (boot runs migrations before handlers).
  await runner.query('LOCK TABLE saga_fence IN SHARE ROW EXCLUSIVE MODE');
  const from = renames.map(([step]) => step);
  const to = renames.map(([, subject]) => subject);
  const clashes = (await runner.query(
    `SELECT f.transaction_id AS "transactionId", f.step
       FROM saga_fence f
       JOIN unnest($1::text[], $2::text[]) AS m(step, subject) ON f.step = m.step
      WHERE EXISTS (SELECT 1 FROM saga_fence g WHERE g.transaction_id = f.transaction_id AND g.step = m.subject)
      LIMIT 20`,
    [from, to],
  )) as Array<{ transactionId: string; step: string }>;
  if (clashes.length > 0) {
    const list = clashes.map((c) => `${c.transactionId}/${c.step}`).join(', ');
    throw new Error(
      `saga_fence holds both the step-name and the subject key of: ${list}; resolve them by hand`,
    );
  }
  await runner.query(
    `UPDATE saga_fence f SET step = m.subject
       FROM unnest($1::text[], $2::text[]) AS m(step, subject)
      WHERE f.step = m.step`,
    [from, to],
  );
}

/** The reverse of {@link rekeyFences} (a migration's `down`). */
export async function rekeyFencesBack(
  runner: QueryRunner,
  renames: ReadonlyArray<readonly [stepName: string, subject: string]>,
): Promise<void> {
  await rekeyFences(
    runner,
    renames.map(([step, subject]) => [subject, step] as const),
  );
}
