import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import type { CommandEnvelope, Decide, Prepare, Prepared, Reply } from '@concord/contracts';
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
   * Default 3000 ms; the command fails and the orchestrator re-sends it.
   */
  readonly workLockTimeoutMs?: number;
  /** This instance's id, as the holder of the in-doubt recovery job. Default: service@host:pid. */
  readonly instanceId?: string;
  /** Lease TTL of the in-doubt recovery job's lock. Default 10 s. */
  readonly singletonLeaseTtlSeconds?: number;
}

/** The fence row of a 2PC branch: one per gid, so an abort that overtakes its prepare is remembered. */
const twoPhaseFenceStep = '2pc';
/** Inbox and fence statements never wait long for a lock: a blocked duplicate fails and is re-sent instead. */
const fenceLockTimeoutMs = 2_000;

/** `QueryRunner.query` is typed `any`; rows are typed once, here. */
async function selectRows<T>(runner: QueryRunner, sql: string, parameters: unknown[]): Promise<T[]> {
  return (await runner.query(sql, parameters)) as T[];
}

/** Connections of the kit's own pool for phase two and prepared replies (never starved by handlers). */
const controlPoolSize = 3;

const OK_NULL: Reply<null> = { ok: true, result: null };

/**
 * The participant side of sagas and two-phase commit: idempotency and fencing as data, in the service's own
 * database. Every method is safe to call again with the same envelope, in any order, from any instance.
 */
@Injectable()
export class Participant implements OnApplicationShutdown {
  readonly service: string;
  private readonly workLockTimeoutMs: number;
  private control: Promise<DataSource> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(PARTICIPANT_OPTIONS) options: ParticipantOptions,
  ) {
    this.service = options.service;
    this.workLockTimeoutMs = options.workLockTimeoutMs ?? 3_000;
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
        extra: { ...extra, max: controlPoolSize },
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
   * A saga action. Runs `work` in one local transaction together with the inbox row for env.messageId.
   * A duplicate messageId gets the first reply again without running work. A refusal (`{ok:false}`) rolls back
   * the business change but the reply is still recorded. Refused with {ok:false, reason:'compensated'} if the
   * compensation for (transactionId, step) already ran (the late action is refused).
   */
  async action<R>(
    env: CommandEnvelope<unknown>,
    work: (em: EntityManager) => Promise<Reply<R>>,
  ): Promise<Reply<R>> {
    return this.inTransaction(async (runner) => {
      const first = await this.claim(runner, env, 'action');
      if (first !== undefined) return first as Reply<R>;
      // The fence row is inside the savepoint: a refused action leaves no trace but its reply, so a later
      // compensation of it correctly finds "never ran".
      await runner.query('SAVEPOINT saga_work');
      const fence = await this.insertFence(runner, env.transactionId, env.step, 'tried');
      let reply: Reply<R>;
      if (fence === 'inserted') reply = await work(runner.manager);
      else reply = { ok: false, reason: fence === 'tried' ? 'duplicate action' : 'compensated' };
      if (!reply.ok) await runner.query('ROLLBACK TO SAVEPOINT saga_work');
      await this.recordReply(runner, env.messageId, reply);
      return reply;
    });
  }

  /**
   * A compensation of the action named `compensatesStep` in the same transaction. If that action never ran,
   * records a marker so the late action is refused, and succeeds as a no-op (work is not called).
   */
  async compensation(
    env: CommandEnvelope<unknown>,
    compensatesStep: string,
    work: (em: EntityManager) => Promise<Reply<null>>,
  ): Promise<Reply<null>> {
    return this.inTransaction(async (runner) => {
      const first = await this.claim(runner, env, 'compensation');
      if (first !== undefined) return first as Reply<null>;
      await runner.query('SAVEPOINT saga_work');
      const fence = await this.insertFence(runner, env.transactionId, compensatesStep, 'suspended');
      let reply: Reply<null> = OK_NULL;
      if (fence === 'tried') {
        reply = await work(runner.manager);
        if (reply.ok) await this.setFence(runner, env.transactionId, compensatesStep, 'compensated');
      }
      if (!reply.ok) await runner.query('ROLLBACK TO SAVEPOINT saga_work');
      await this.recordReply(runner, env.messageId, reply);
      return reply;
    });
  }

  /** 2PC phase one: BEGIN; work; inbox row; PREPARE TRANSACTION gid. A repeat while prepared answers the same. */
  async prepare<R>(
    env: CommandEnvelope<Prepare<unknown>>,
    work: (em: EntityManager) => Promise<Reply<R>>,
  ): Promise<Reply<Prepared>> {
    const gid = this.ownGid(env.payload.gid);
    const committed = await this.committedReply(env.messageId);
    if (committed !== undefined) return committed as Reply<Prepared>;
    if (await this.isPrepared(gid)) {
      const kept = await this.preparedReply(gid);
      // The reply row is written before PREPARE, so a prepared gid always has one; the fallback is defensive.
      return (kept as Reply<Prepared> | undefined) ?? { ok: true, result: { gid, result: null } };
    }
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    let prepared = false;
    try {
      await runner.startTransaction();
      const first = await this.claim(runner, env, 'prepare');
      if (first !== undefined) {
        await runner.commitTransaction();
        return first as Reply<Prepared>;
      }
      const fence = await this.insertFence(runner, gid, twoPhaseFenceStep, 'tried');
      let outcome: Reply<R>;
      if (fence === 'inserted') outcome = await work(runner.manager);
      else outcome = { ok: false, reason: fence === 'suspended' ? 'aborted' : 'already decided' };
      if (!outcome.ok) {
        // A refusal prepares nothing: the transaction is rolled back and only the reply is kept (on the same
        // connection: taking a second one while holding this one can deadlock a busy pool).
        await runner.rollbackTransaction();
        await this.recordRefusal(runner, env, 'prepare', outcome);
        return outcome;
      }
      const reply: Reply<Prepared> = { ok: true, result: { gid, result: outcome.result } };
      await this.recordReply(runner, env.messageId, reply);
      await (
        await this.controlPool()
      ).query(
        `INSERT INTO saga_prepared_reply (gid, message_id, reply) VALUES ($1, $2, $3)
         ON CONFLICT (gid) DO UPDATE SET message_id = EXCLUDED.message_id, reply = EXCLUDED.reply`,
        [gid, env.messageId, JSON.stringify(reply)],
      );
      await runner.query(`PREPARE TRANSACTION ${gidLiteral(gid)}`);
      prepared = true;
      return reply;
    } finally {
      if (!prepared && runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
    }
  }

  /** 2PC phase two, commit. Idempotent: an already committed gid answers ok again. */
  async commitPrepared(env: CommandEnvelope<Decide>): Promise<Reply<null>> {
    return this.decide(this.ownGid(env.payload.gid), 'commit');
  }

  /** 2PC phase two, abort. Idempotent; an abort that overtakes its prepare fences the late prepare out. */
  async abortPrepared(env: CommandEnvelope<Decide>): Promise<Reply<null>> {
    return this.decide(this.ownGid(env.payload.gid), 'abort');
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

  /** Applies a decision to one of this service's gids (used by phase two and by in-doubt recovery). */
  async decide(gid: string, decision: 'commit' | 'abort'): Promise<Reply<null>> {
    this.ownGid(gid);
    const control = await this.controlPool();
    if (await this.isPrepared(gid)) {
      try {
        await control.query(`${decision === 'commit' ? 'COMMIT' : 'ROLLBACK'} PREPARED ${gidLiteral(gid)}`);
      } catch (error) {
        // Another instance (or recovery) resolved it between our look and our statement: re-read the outcome.
        if ((error as { code?: string }).code !== '42704') throw error;
      }
    }
    const status = await this.fenceAfterDecision(control, gid, decision);
    await control.query('DELETE FROM saga_prepared_reply WHERE gid = $1', [gid]);
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

  private async isPrepared(gid: string): Promise<boolean> {
    const rows: unknown[] = await this.dataSource.query(
      'SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = current_database()',
      [gid],
    );
    return rows.length > 0;
  }

  private async preparedReply(gid: string): Promise<Reply<unknown> | undefined> {
    const rows: Array<{ reply: Reply<unknown> }> = await this.dataSource.query(
      'SELECT reply FROM saga_prepared_reply WHERE gid = $1',
      [gid],
    );
    return rows[0]?.reply;
  }

  private async committedReply(messageId: string): Promise<Reply<unknown> | undefined> {
    const rows: Array<{ reply: Reply<unknown> | null }> = await this.dataSource.query(
      'SELECT reply FROM saga_inbox WHERE message_id = $1',
      [messageId],
    );
    return rows[0]?.reply ?? undefined;
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

  /**
   * Claims env.messageId in the inbox. Returns the first reply when the message was handled before; the
   * insert waits for a concurrent claimer of the same id to finish, so two deliveries never both run work.
   */
  private async claim(
    runner: QueryRunner,
    env: CommandEnvelope<unknown>,
    kind: InboxKind,
  ): Promise<Reply<unknown> | undefined> {
    await runner.query(`SET LOCAL lock_timeout = ${fenceLockTimeoutMs}`);
    const inserted = await selectRows<unknown>(
      runner,
      `INSERT INTO saga_inbox (message_id, transaction_id, step, kind) VALUES ($1, $2, $3, $4)
       ON CONFLICT (message_id) DO NOTHING RETURNING message_id`,
      [env.messageId, env.transactionId, env.step, kind],
    );
    if (inserted.length > 0) return undefined;
    const rows = await selectRows<{ reply: Reply<unknown> | null }>(
      runner,
      'SELECT reply FROM saga_inbox WHERE message_id = $1',
      [env.messageId],
    );
    const reply = rows[0]?.reply;
    if (reply === undefined || reply === null) throw new Error(`inbox row ${env.messageId} has no reply`);
    return reply;
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

  private async setFence(
    runner: QueryRunner,
    transactionId: string,
    step: string,
    status: FenceStatus,
  ): Promise<void> {
    await runner.query('UPDATE saga_fence SET status = $3 WHERE transaction_id = $1 AND step = $2', [
      transactionId,
      step,
      status,
    ]);
  }

  private async recordReply(runner: QueryRunner, messageId: string, reply: Reply<unknown>): Promise<void> {
    await runner.query('UPDATE saga_inbox SET reply = $2 WHERE message_id = $1', [
      messageId,
      JSON.stringify(reply),
    ]);
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
