import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import type { CommandEnvelope, Decide, Prepare, Prepared, Reply } from '@concord/contracts';
import { SpanKind, tracingOn, withSpan } from '@concord/platform';
import { gidLiteral, parseGid } from './gid.js';
import type { FenceStatus, InboxKind } from './participant.entities.js';

export const PARTICIPANT_OPTIONS = Symbol('PARTICIPANT_OPTIONS');

export interface ParticipantOptions {
  /** This service's name: the prefix of its 2PC gids (`<service>:<transactionId>`). */
  readonly service: string;
  /** How often in-doubt prepared transactions are looked for. Default 5000 ms; 0 disables the timer. */
  readonly recoveryIntervalMs?: number;
  /** A prepared transaction younger than this is left to the live protocol. Default 10000 ms. */
  readonly inDoubtAgeMs?: number;
  /** Deadline of one `orchestrator.2pc.decision` request. Default 2000 ms. */
  readonly decisionTimeoutMs?: number;
  /**
   * Longest wait of the business work for a row lock (`lock_timeout`). A row held by a prepared transaction
   * stays locked until its decision: without a bound, handlers pile up behind it and exhaust the pool.
   * Default 1000 ms: a request queued behind a prepared branch gives its connection back within a second; the
   * command fails and the orchestrator re-sends it.
   */
  readonly workLockTimeoutMs?: number;
  /** Connections of the kit's own pool for phase two and prepared replies. Default 8. */
  readonly controlPoolSize?: number;
  /** This instance's id, as the holder of the in-doubt recovery job. Default: service@host:pid. */
  readonly instanceId?: string;
  /** How often each instance deletes old inbox and fence rows ({@link Participant.prune}). Default 60 s; 0 never. */
  readonly pruneIntervalMs?: number;
  /** Inbox and fence rows older than this are deleted. Default 7 days (far beyond any re-send). */
  readonly retentionMs?: number;
  /** Rows of each table deleted per statement; a pass runs at most 10 such batches. Default 1000. */
  readonly pruneBatchMax?: number;
  /** Lease TTL of the in-doubt recovery job's lock. Default 10 s. */
  readonly singletonLeaseTtlSeconds?: number;
}

/**
 * A command from an orchestrator whose fencing token is older than one this participant has already seen: a
 * deposed leader still sending. Thrown (a transport-level failure, never a business refusal), so nothing runs and
 * the sender, if it is still alive, finds itself fenced at its log.
 */
export class StaleFencingTokenError extends Error {
  override readonly name = 'StaleFencingTokenError';
}

/** The pg client under a TypeORM query runner (what `QueryRunner.connect()` resolves to for postgres). */
type PgClient = pg.PoolClient;

/** A SQL string literal (standard_conforming_strings on, which PostgreSQL has had by default since 9.1). */
const literal = (value: string): string => pg.escapeLiteral(value);

/** The fence row of a 2PC branch: one per gid, so an abort that overtakes its prepare is remembered. */
const twoPhaseFenceStep = '2pc';
/** Inbox and fence statements never wait long for a lock: a blocked duplicate fails and is re-sent instead. */
const fenceLockTimeoutMs = 2_000;

/** `QueryRunner.query` is typed `any`; rows are typed once, here. */
async function selectRows<T>(runner: QueryRunner, sql: string, parameters: unknown[]): Promise<T[]> {
  return (await runner.query(sql, parameters)) as T[];
}

const OK_NULL: Reply<null> = { ok: true, result: null };

/**
 * The participant side of sagas and two-phase commit: idempotency and fencing as data, in the service's own
 * database. Every method is safe to call again with the same envelope, in any sequence, from any instance.
 */
@Injectable()
export class Participant implements OnApplicationShutdown {
  readonly service: string;
  private readonly workLockTimeoutMs: number;
  private readonly controlPoolSize: number;
  private control: Promise<DataSource> | undefined;
  /** The newest orchestrator fencing token this process has seen (an in-memory high-water mark). */
  private newestToken = 0;
  /** Connections that already carry `lock_timeout` (set once per connection, not per transaction). */
  private readonly configured = new WeakSet<object>();

  constructor(
    private readonly dataSource: DataSource,
    @Inject(PARTICIPANT_OPTIONS) options: ParticipantOptions,
  ) {
    this.service = options.service;
    this.workLockTimeoutMs = options.workLockTimeoutMs ?? 1_000;
    this.controlPoolSize = options.controlPoolSize ?? 8;
  }

  /**
   * A small pool of the kit's own for COMMIT/ROLLBACK PREPARED, abort markers and prepared replies. Phase two
   * is what releases the locks that handlers wait on; if it had to queue behind them for a connection of the
   * shared pool, the service would deadlock itself under load.
   */
  private async controlPool(): Promise<DataSource> {
    this.control ??= (async () => {
      const options = this.dataSource.options;
      const extra = (options.extra ?? {}) as Record<string, unknown>;
      const control = new DataSource({
        ...options,
        entities: [],
        migrations: [],
        migrationsRun: false,
        synchronize: false,
        // Warm: phase two never waits for a connection to be opened again after a quiet spell.
        extra: { ...extra, max: this.controlPoolSize, idleTimeoutMillis: 0 },
      });
      await control.initialize();
      return control;
    })();
    return this.control;
  }

  /** Closes the kit's own pool (the app's DataSource is closed by its owner). */
  async close(): Promise<void> {
    const control = this.control;
    this.control = undefined;
    if (control !== undefined) await (await control).destroy();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }

  /**
   * A saga action received on `subject`. Runs `work` in one local transaction together with the inbox row for
   * env.messageId. A duplicate messageId gets the first reply again without running work. A refusal
   * (`{ok:false}`) rolls back the business change but the reply is still recorded. Refused with
   * {ok:false, reason:'compensated'} if the compensation of (transactionId, subject) already ran (the late action
   * is refused).
   *
   * The fence is keyed by the action's subject, not by the workflow's step name: the participant owns its
   * subjects, while step names belong to whichever workflow sent the command (a saga may therefore send one
   * subject once per transaction; the saga definition checks it).
   *
   * Round trips: one to begin, claim the message id and the fence and open the savepoint; the work's own; one
   * to record the reply and commit (one WAL flush).
   */
  async action<R>(
    env: CommandEnvelope<unknown>,
    subject: string,
    work: (em: EntityManager) => Promise<Reply<R>>,
  ): Promise<Reply<R>> {
    return this.command(env, 'action', { step: subject, status: 'tried' }, async (fence, runner) => {
      if (fence === 'inserted') return work(runner.manager);
      return { ok: false, reason: fence === 'tried' ? 'duplicate action' : 'compensated' };
    });
  }

  /**
   * A compensation of the action received on subject `undoes` in the same transaction (e.g. a release names
   * the reserve it undoes). If that action never ran, records a marker so the late action is refused, and
   * succeeds as a no-op (work is not called).
   */
  async compensation(
    env: CommandEnvelope<unknown>,
    undoes: string,
    work: (em: EntityManager) => Promise<Reply<null>>,
  ): Promise<Reply<null>> {
    return this.command(
      env,
      'compensation',
      { step: undoes, status: 'suspended' },
      async (fence, runner, client) => {
        if (fence !== 'tried') return OK_NULL;
        const reply = await work(runner.manager);
        if (reply.ok) {
          await client.query('UPDATE saga_fence SET status = $3 WHERE transaction_id = $1 AND step = $2', [
            env.transactionId,
            undoes,
            'compensated',
          ]);
        }
        return reply;
      },
    );
  }

  /**
   * The shape of every saga command: claim the message id and insert the fence row in one statement sent with
   * BEGIN and SAVEPOINT; a duplicate answers the first reply; else `body` runs; a refusal rolls back to the
   * savepoint (and removes the fence row this transaction inserted); the reply is written with the COMMIT.
   */
  private async command<R>(
    env: CommandEnvelope<unknown>,
    kind: InboxKind,
    fence: { step: string; status: FenceStatus },
    body: (fence: 'inserted' | FenceStatus, runner: QueryRunner, client: PgClient) => Promise<Reply<R>>,
  ): Promise<Reply<R>> {
    if (tracingOn)
      return this.sqlSpan(`transaction ${kind}`, env.step, () => this.runCommand(env, kind, fence, body));
    return this.runCommand(env, kind, fence, body);
  }

  /** One local transaction in a CLIENT span (only called with tracing on). */
  private sqlSpan<T>(operation: string, step: string, work: () => Promise<T>): Promise<T> {
    return withSpan(
      `pg ${operation}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': 'postgresql',
          'db.operation.name': operation,
          'concord.service': this.service,
          'concord.saga.step': step,
        },
      },
      work,
    );
  }

  private async runCommand<R>(
    env: CommandEnvelope<unknown>,
    kind: InboxKind,
    fence: { step: string; status: FenceStatus },
    body: (fence: 'inserted' | FenceStatus, runner: QueryRunner, client: PgClient) => Promise<Reply<R>>,
  ): Promise<Reply<R>> {
    this.admit(env);
    const runner = this.dataSource.createQueryRunner();
    const client = (await runner.connect()) as PgClient;
    let open = true; // from the first statement on, an error rolls back (a no-op if BEGIN never ran)
    try {
      const claimSql = `WITH claim AS (
          INSERT INTO saga_inbox (message_id, transaction_id, step, kind)
          VALUES (${literal(env.messageId)}, ${literal(env.transactionId)}, ${literal(env.step)}, ${literal(kind)})
          ON CONFLICT (message_id) DO NOTHING RETURNING message_id),
        fence AS (
          INSERT INTO saga_fence (transaction_id, step, status)
          SELECT ${literal(env.transactionId)}, ${literal(fence.step)}, ${literal(fence.status)}
          WHERE EXISTS (SELECT 1 FROM claim)
          ON CONFLICT (transaction_id, step) DO NOTHING RETURNING status)
        SELECT EXISTS (SELECT 1 FROM claim) AS claimed, EXISTS (SELECT 1 FROM fence) AS fenced`;
      await this.configure(client);
      const results = (await client.query(
        `BEGIN; ${claimSql}; SAVEPOINT saga_work`,
      )) as unknown as pg.QueryResult[];
      // Tell TypeORM the transaction is ours, so that work using `save()` does not open (and commit) its own.
      (runner as { isTransactionActive: boolean }).isTransactionActive = true;
      const claim = results.find((r) => r.command === 'SELECT')?.rows[0] as
        { claimed: boolean; fenced: boolean } | undefined;
      if (claim === undefined) throw new Error('claim statement returned nothing');
      if (!claim.claimed) {
        // Handled before (or by a concurrent delivery that committed first): its reply, read afresh.
        const rows = await client.query<{ reply: Reply<R> | null }>(
          'SELECT reply FROM saga_inbox WHERE message_id = $1',
          [env.messageId],
        );
        const reply = rows.rows[0]?.reply;
        if (reply === undefined || reply === null) throw new Error(`inbox row ${env.messageId} has no reply`);
        await client.query('ROLLBACK');
        open = false;
        return reply;
      }
      let status: 'inserted' | FenceStatus = 'inserted';
      if (!claim.fenced) {
        const rows = await client.query<{ status: FenceStatus }>(
          'SELECT status FROM saga_fence WHERE transaction_id = $1 AND step = $2 FOR UPDATE',
          [env.transactionId, fence.step],
        );
        const existing = rows.rows[0]?.status;
        if (existing === undefined) throw new Error(`fence row ${env.transactionId}/${fence.step} vanished`);
        status = existing;
      }
      const reply = await body(status, runner, client);
      const undo = reply.ok
        ? ''
        : `ROLLBACK TO SAVEPOINT saga_work; ${
            status === 'inserted'
              ? `DELETE FROM saga_fence WHERE transaction_id = ${literal(env.transactionId)} AND step = ${literal(fence.step)}; `
              : ''
          }`;
      await client.query(
        `${undo}UPDATE saga_inbox SET reply = ${literal(JSON.stringify(reply))}::jsonb WHERE message_id = ${literal(env.messageId)}; COMMIT`,
      );
      open = false;
      return reply;
    } catch (error) {
      if (open) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      (runner as { isTransactionActive: boolean }).isTransactionActive = false;
      await runner.release();
    }
  }

  /**
   * Refuses a command carrying a fencing token older than the newest seen. The orchestrator's log is the real
   * guard (a deposed leader's writes are refused there); this keeps a deposed leader's commands, still in
   * flight, from doing work here first. Per process and in memory: a restarted participant learns again.
   */
  private admit(env: CommandEnvelope<unknown>): void {
    const token: unknown = env.fencingToken;
    if (token === undefined) return;
    // From the wire: a token that is not a non-negative integer would compare false both ways and pass the fence.
    if (typeof token !== 'number' || !Number.isSafeInteger(token) || token < 0)
      throw new TypeError(
        `malformed command: fencingToken must be a non-negative integer, got ${JSON.stringify(token)}`,
      );
    if (token < this.newestToken) {
      throw new StaleFencingTokenError(`fencing token ${token} is older than ${this.newestToken}`);
    }
    this.newestToken = token;
  }

  /**
   * `SET lock_timeout` the first time the kit uses a connection, on its own, outside any transaction: a SET sent
   * in the same string as BEGIN would belong to that transaction and be undone by its rollback. The setting then
   * holds for the connection's life, for every statement on it (the app's own ones too).
   */
  private async configure(client: PgClient): Promise<void> {
    if (this.configured.has(client)) return;
    await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(this.workLockTimeoutMs))}`);
    this.configured.add(client);
  }

  /**
   * 2PC phase one: BEGIN; work; inbox row; PREPARE TRANSACTION gid. A repeat while prepared answers the same.
   * Round trips: one to begin, look (already committed? prepared?) and claim, the work's own, one to keep
   * the reply outside the transaction (no flush of its own: the PREPARE's flush, later in the same WAL, covers
   * it), one to record the reply and prepare (one flush).
   */
  async prepare<R>(
    env: CommandEnvelope<Prepare<unknown>>,
    work: (em: EntityManager) => Promise<Reply<R>>,
  ): Promise<Reply<Prepared>> {
    if (tracingOn) return this.sqlSpan('prepare transaction', env.step, () => this.runPrepare(env, work));
    return this.runPrepare(env, work);
  }

  private async runPrepare<R>(
    env: CommandEnvelope<Prepare<unknown>>,
    work: (em: EntityManager) => Promise<Reply<R>>,
  ): Promise<Reply<Prepared>> {
    const gid = this.ownGid(env.payload.gid);
    this.admit(env);
    const runner = this.dataSource.createQueryRunner();
    const client = (await runner.connect()) as PgClient;
    let open = true;
    let prepared = false;
    try {
      await this.configure(client);
      // One round trip: begin, look (answered already? prepared already?) and claim. The claim is skipped when the
      // look finds an answer: a prepared gid's inbox and fence rows are held by its prepared transaction, and
      // inserting over them would wait for phase two.
      const results = (await client.query(
        `BEGIN; WITH look AS (
           SELECT (SELECT reply FROM saga_inbox WHERE message_id = ${literal(env.messageId)}) AS committed,
                  (SELECT reply FROM saga_prepared_reply WHERE gid = ${literal(gid)}) AS kept,
                  EXISTS (SELECT 1 FROM pg_prepared_xacts
                          WHERE gid = ${literal(gid)} AND database = current_database()) AS prepared),
         claim AS (
           INSERT INTO saga_inbox (message_id, transaction_id, step, kind)
           SELECT ${literal(env.messageId)}, ${literal(env.transactionId)}, ${literal(env.step)}, 'prepare'
           FROM look WHERE committed IS NULL AND NOT prepared
           ON CONFLICT (message_id) DO NOTHING RETURNING message_id),
         fence AS (
           INSERT INTO saga_fence (transaction_id, step, status)
           SELECT ${literal(gid)}, ${literal(twoPhaseFenceStep)}, 'tried' WHERE EXISTS (SELECT 1 FROM claim)
           ON CONFLICT (transaction_id, step) DO NOTHING RETURNING status)
         SELECT look.committed, look.kept, look.prepared, EXISTS (SELECT 1 FROM claim) AS claimed,
                EXISTS (SELECT 1 FROM fence) AS fenced
         FROM look`,
      )) as unknown as pg.QueryResult[];
      (runner as { isTransactionActive: boolean }).isTransactionActive = true;
      const claim = results.find((r) => r.command === 'SELECT')?.rows[0] as
        | {
            committed: Reply<Prepared> | null;
            kept: Reply<Prepared> | null;
            prepared: boolean;
            claimed: boolean;
            fenced: boolean;
          }
        | undefined;
      if (claim === undefined) throw new Error('claim statement returned nothing');
      if (claim.committed !== null) return claim.committed;
      if (claim.prepared) {
        // The reply row is written before PREPARE, so a prepared gid always has one; the fallback is defensive.
        return claim.kept ?? { ok: true, result: { gid, result: null } };
      }
      if (!claim.claimed) {
        const rows = await client.query<{ reply: Reply<Prepared> | null }>(
          'SELECT reply FROM saga_inbox WHERE message_id = $1',
          [env.messageId],
        );
        const reply = rows.rows[0]?.reply;
        if (reply === undefined || reply === null) throw new Error(`inbox row ${env.messageId} has no reply`);
        return reply;
      }
      let outcome: Reply<R>;
      if (claim.fenced) outcome = await work(runner.manager);
      else {
        const rows = await client.query<{ status: FenceStatus }>(
          'SELECT status FROM saga_fence WHERE transaction_id = $1 AND step = $2 FOR UPDATE',
          [gid, twoPhaseFenceStep],
        );
        outcome = { ok: false, reason: rows.rows[0]?.status === 'suspended' ? 'aborted' : 'already decided' };
      }
      if (!outcome.ok) {
        // A refusal prepares nothing: the transaction is rolled back and only the reply is kept (on the same
        // connection: taking a second one while holding this one can deadlock a busy pool).
        await client.query('ROLLBACK');
        open = false;
        await this.recordRefusal(runner, env, 'prepare', outcome);
        return outcome;
      }
      const reply: Reply<Prepared> = { ok: true, result: { gid, result: outcome.result } };
      await (
        await this.controlPool()
      ).query(
        `WITH no_flush AS (SELECT set_config('synchronous_commit', 'off', true) AS setting)
         INSERT INTO saga_prepared_reply (gid, message_id, reply) SELECT $1, $2, $3 FROM no_flush
         ON CONFLICT (gid) DO UPDATE SET message_id = EXCLUDED.message_id, reply = EXCLUDED.reply`,
        [gid, env.messageId, JSON.stringify(reply)],
      );
      await client.query(
        `UPDATE saga_inbox SET reply = ${literal(JSON.stringify(reply))}::jsonb WHERE message_id = ${literal(env.messageId)}; PREPARE TRANSACTION ${gidLiteral(gid)}`,
      );
      prepared = true;
      open = false;
      return reply;
    } finally {
      if (open && !prepared) await client.query('ROLLBACK').catch(() => undefined);
      (runner as { isTransactionActive: boolean }).isTransactionActive = false;
      await runner.release();
    }
  }

  /** 2PC phase two, commit. Idempotent: an already committed gid answers ok again. */
  async commitPrepared(env: CommandEnvelope<Decide>): Promise<Reply<null>> {
    const gid = this.ownGid(env.payload.gid);
    if (tracingOn) return this.sqlSpan('commit prepared', env.step, () => this.decide(gid, 'commit'));
    return this.decide(gid, 'commit');
  }

  /** 2PC phase two, abort. Idempotent; an abort that overtakes its prepare fences the late prepare out. */
  async abortPrepared(env: CommandEnvelope<Decide>): Promise<Reply<null>> {
    const gid = this.ownGid(env.payload.gid);
    if (tracingOn) return this.sqlSpan('rollback prepared', env.step, () => this.decide(gid, 'abort'));
    return this.decide(gid, 'abort');
  }

  /**
   * Deletes inbox and fence rows older than `olderThanMs` (at most `batchMax` of each per call), never the fence
   * of a gid still prepared. Retention must far exceed any re-send: the orchestrator stops re-sending a command once
   * its instance finished, and a step's deadline is seconds, so days of retention keep every guarantee. Meant for a
   * periodic job; returns how many rows went.
   */
  async prune(olderThanMs: number, batchMax = 10_000): Promise<{ inbox: number; fence: number }> {
    const seconds = Math.max(0, olderThanMs) / 1000;
    const inbox = await this.dataSource.query<[unknown[], number]>(
      `DELETE FROM saga_inbox WHERE message_id IN (
         SELECT message_id FROM saga_inbox WHERE created_at < now() - make_interval(secs => $1) LIMIT $2)`,
      [seconds, batchMax],
    );
    const fence = await this.dataSource.query<[unknown[], number]>(
      `DELETE FROM saga_fence WHERE (transaction_id, step) IN (
         SELECT f.transaction_id, f.step FROM saga_fence f
         WHERE f.created_at < now() - make_interval(secs => $1)
           AND NOT EXISTS (SELECT 1 FROM pg_prepared_xacts p WHERE p.gid = f.transaction_id)
         LIMIT $2)`,
      [seconds, batchMax],
    );
    return { inbox: inbox[1], fence: fence[1] };
  }

  /** This service's prepared transactions older than `minAgeMs` (in-doubt candidates for recovery). */
  async listPrepared(minAgeMs: number): Promise<string[]> {
    const rows: Array<{ gid: string }> = await this.dataSource.query(
      `SELECT gid FROM pg_prepared_xacts
       WHERE database = current_database() AND starts_with(gid, $1)
         AND prepared < now() - make_interval(secs => $2)
       ORDER BY prepared`,
      [`${this.service}:`, minAgeMs / 1000],
    );
    return rows.map((row) => row.gid);
  }

  /**
   * Applies a decision to one of this service's gids (used by phase two and by in-doubt recovery). A commit is
   * one round trip with one flush when the gid is prepared (the common case), then the kept reply is dropped
   * without a flush of its own (a leftover row is never read again: the inbox answers a committed message).
   */
  async decide(gid: string, decision: 'commit' | 'abort'): Promise<Reply<null>> {
    this.ownGid(gid);
    const control = await this.controlPool();
    let resolvedHere = false;
    try {
      await control.query(`${decision === 'commit' ? 'COMMIT' : 'ROLLBACK'} PREPARED ${gidLiteral(gid)}`);
      resolvedHere = true;
    } catch (error) {
      // Not prepared (never was, or another instance or recovery resolved it): the fence tells what happened.
      if ((error as { code?: string }).code !== '42704') throw error;
    }
    const status =
      resolvedHere && decision === 'commit' ? 'tried' : await this.fenceAfterDecision(control, gid, decision);
    await control.query(
      `WITH no_flush AS (SELECT set_config('synchronous_commit', 'off', true) AS setting)
       DELETE FROM saga_prepared_reply WHERE gid = $1 AND EXISTS (SELECT 1 FROM no_flush)`,
      [gid],
    );
    if (decision === 'commit') {
      return status === 'tried'
        ? OK_NULL
        : { ok: false, reason: `not prepared (${status ?? 'unknown gid'})` };
    }
    return status === 'suspended' ? OK_NULL : { ok: false, reason: 'already committed' };
  }

  private async fenceAfterDecision(
    control: DataSource,
    gid: string,
    decision: 'commit' | 'abort',
  ): Promise<FenceStatus | undefined> {
    if (decision === 'abort') {
      // Remember the abort so that a prepare still in flight (or re-sent late) is refused.
      return this.inTransaction(async (runner) => {
        const fence = await this.insertFence(runner, gid, twoPhaseFenceStep, 'suspended');
        return fence === 'inserted' ? 'suspended' : fence;
      }, control);
    }
    const rows: Array<{ status: FenceStatus }> = await control.query(
      'SELECT status FROM saga_fence WHERE transaction_id = $1 AND step = $2',
      [gid, twoPhaseFenceStep],
    );
    return rows[0]?.status;
  }

  private ownGid(gid: string): string {
    const parsed = parseGid(gid);
    if (parsed.service !== this.service)
      throw new Error(`gid ${gid} does not belong to service ${this.service}`);
    return gid;
  }

  private async recordRefusal(
    runner: QueryRunner,
    env: CommandEnvelope<unknown>,
    kind: InboxKind,
    reply: Reply<unknown>,
  ): Promise<void> {
    await runner.query(
      `INSERT INTO saga_inbox (message_id, transaction_id, step, kind, reply) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (message_id) DO NOTHING`,
      [env.messageId, env.transactionId, env.step, kind, JSON.stringify(reply)],
    );
  }

  /** Inserts the fence row unless one exists; returns 'inserted' or the status already there (row locked). */
  private async insertFence(
    runner: QueryRunner,
    transactionId: string,
    step: string,
    status: FenceStatus,
  ): Promise<'inserted' | FenceStatus> {
    await runner.query(`SET LOCAL lock_timeout = ${fenceLockTimeoutMs}`);
    const inserted = await selectRows<unknown>(
      runner,
      `INSERT INTO saga_fence (transaction_id, step, status) VALUES ($1, $2, $3)
       ON CONFLICT (transaction_id, step) DO NOTHING RETURNING status`,
      [transactionId, step, status],
    );
    let outcome: 'inserted' | FenceStatus = 'inserted';
    if (inserted.length === 0) {
      const rows = await selectRows<{ status: FenceStatus }>(
        runner,
        'SELECT status FROM saga_fence WHERE transaction_id = $1 AND step = $2 FOR UPDATE',
        [transactionId, step],
      );
      const existing = rows[0]?.status;
      if (existing === undefined) throw new Error(`fence row ${transactionId}/${step} vanished`);
      outcome = existing;
    }
    // Business work waits for row locks up to its own bound (see ParticipantOptions.workLockTimeoutMs).
    await runner.query(`SET LOCAL lock_timeout = ${this.workLockTimeoutMs}`);
    return outcome;
  }

  private async inTransaction<T>(
    body: (runner: QueryRunner) => Promise<T>,
    dataSource: DataSource = this.dataSource,
  ): Promise<T> {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const result = await body(runner);
      await runner.commitTransaction();
      return result;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }
}
