import { createHash } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import type { Reply } from '@concord/contracts';
import type { WorkflowStateBase } from '../definition/workflow.js';

/** A change refused because a leader with a newer fencing token exists (or claimed the row since). */
export class FencedError extends Error {
  override readonly name = 'FencedError';
}

/** The instance changed under us (another writer with the same token): reload and decide again. */
export class StaleVersionError extends Error {
  override readonly name = 'StaleVersionError';
}

export interface InstanceRecord {
  readonly id: string;
  readonly type: string;
  readonly mode: 'saga' | '2pc';
  readonly status: string;
  readonly reason: string | null;
  readonly input: unknown;
  readonly state: WorkflowStateBase;
  readonly idempotencyKey: string | null;
  readonly requestHash: string;
  readonly fencingToken: number;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** W3C `traceparent` of the instance's span when it was created with tracing on: a resumed run continues it. */
  readonly traceContext?: string | null;
}

export interface StepRecord {
  readonly key: string;
  readonly step: string;
  readonly subject: string;
  readonly messageId: string;
  readonly status: string;
  readonly reply: unknown;
  readonly attempts: number;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

export interface LifecycleEvent {
  readonly eventId: string;
  readonly subject: string;
  readonly payload: Record<string, unknown>;
}

export interface StepOutcome {
  readonly key: string;
  readonly status: 'succeeded' | 'refused' | 'gave-up';
  readonly reply: Reply<unknown> | null;
  readonly attempts: number;
}

/** A command made outstanding by a transition: its step row is written in the same statement. */
export interface StartedStep {
  readonly key: string;
  readonly step: string;
  readonly subject: string;
  readonly messageId: string;
}

function stepsJson(steps: readonly StartedStep[]): string {
  return JSON.stringify(
    steps.map((s) => ({ key: s.key, step: s.step, subject: s.subject, message_id: s.messageId })),
  );
}

function eventsJson(events: readonly LifecycleEvent[]): string {
  return JSON.stringify(events.map((e) => ({ event_id: e.eventId, subject: e.subject, payload: e.payload })));
}

/** One transition to write (see {@link SagaLog.transition}). */
interface TransitionWrite {
  readonly sagaId: string;
  readonly expectedVersion: number;
  readonly state: WorkflowStateBase;
  readonly outcome: StepOutcome | undefined;
  readonly events: readonly LifecycleEvent[];
  readonly fencingToken: number;
  readonly started: readonly StartedStep[];
  readonly durable: boolean;
}

interface QueuedTransition {
  readonly write: TransitionWrite;
  readonly resolve: (written: { version: number | null; newest: number }) => void;
  readonly reject: (error: Error) => void;
}

/** Optional provider: how many transition statements the log keeps in flight at once (default 2). */
export const SAGA_LOG_TRANSITIONS_IN_FLIGHT = Symbol('SAGA_LOG_TRANSITIONS_IN_FLIGHT');

export type CreateOutcome =
  | { readonly kind: 'created'; readonly instance: InstanceRecord }
  | { readonly kind: 'existing'; readonly instance: InstanceRecord }
  | { readonly kind: 'conflict'; readonly instance: InstanceRecord };

/** JSON with object keys sorted: jsonb reorders keys, so a stored input must hash like the one sent. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

export function requestHash(type: string, mode: string, input: unknown): string {
  return createHash('sha256')
    .update(canonicalJson([type, mode, input]))
    .digest('hex');
}

interface InstanceRow {
  id: string;
  type: string;
  mode: 'saga' | '2pc';
  status: string;
  reason: string | null;
  input: unknown;
  state: WorkflowStateBase;
  idempotency_key: string | null;
  request_hash: string;
  fencing_token: string;
  version: number;
  created_at: Date;
  updated_at: Date;
  trace_context: string | null;
}

function toInstance(row: InstanceRow): InstanceRecord {
  return {
    id: row.id,
    type: row.type,
    mode: row.mode,
    status: row.status,
    reason: row.reason,
    input: row.input,
    state: row.state,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    fencingToken: Number(row.fencing_token),
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    traceContext: row.trace_context,
  };
}

interface StepRow {
  key: string;
  step: string;
  subject: string;
  message_id: string;
  status: string;
  reply: unknown;
  attempts: number;
  started_at: Date;
  finished_at: Date | null;
}

const instanceColumns =
  'id, type, mode, status, reason, input, state, idempotency_key, request_hash, fencing_token, version, created_at, updated_at, trace_context';

/**
 * The orchestrator's repository: the only code that touches its tables. Every write of an instance is one
 * statement (one implicit transaction) that (1) reads the leadership row and refuses a token older than the
 * newest claimed, (2) updates the instance only if its version and token allow, (3) writes the finished step's
 * outcome and the rows of the steps it starts and (4) the lifecycle events to the outbox. Nothing is sent before
 * that statement commits. A claim of the leadership row fences writes in flight with a table lock (see `fenced`).
 */
@Injectable()
export class SagaLog {
  /** Transitions waiting for a statement: sent together when one in flight returns (group commit). */
  private readonly queued: QueuedTransition[] = [];
  private transitionsInFlight = 0;

  constructor(
    private readonly dataSource: DataSource,
    /** Transition statements in flight at once; more wait and go together in the next one. Default 2. */
    @Optional() @Inject(SAGA_LOG_TRANSITIONS_IN_FLIGHT) private readonly transitionsInFlightMax: number = 2,
  ) {}

  /**
   * The statements on every transaction's path go straight to the pg pool under the DataSource, as named
   * (server-side prepared) statements: no query runner, logger or broadcaster of TypeORM's per statement, and
   * PostgreSQL parses and plans each once per connection. The profile that led here is in docs/transactions.md.
   */
  private async hot<T>(name: string, text: string, values: unknown[]): Promise<T[]> {
    const pool = (this.dataSource.driver as unknown as { master: pg.Pool }).master;
    const result = await pool.query<T & pg.QueryResultRow>({ name, text, values });
    return result.rows;
  }

  /** Claims the next fencing token (single-instance leadership, and the coordinator-backed one's floor). */
  async claimFencingToken(holder: string, atLeast = 0): Promise<number> {
    const rows = await this.fenced<Array<{ fencing_token: string }>>(
      `UPDATE saga_leadership SET fencing_token = GREATEST(fencing_token + 1, $2), holder = $1, updated_at = now()
       WHERE id = 1 RETURNING fencing_token`,
      [holder, atLeast],
    );
    const token = rows[0]?.fencing_token;
    if (token === undefined) throw new Error('saga_leadership row missing: migrations not run?');
    return Number(token);
  }

  /** Records a token handed out elsewhere (the coordinator's lock), so older holders are refused from now on. */
  async adoptFencingToken(holder: string, token: number): Promise<void> {
    await this.fenced(
      `UPDATE saga_leadership SET fencing_token = $2, holder = $1, updated_at = now()
       WHERE id = 1 AND fencing_token < $2`,
      [holder, token],
    );
  }

  /**
   * A change of the leadership row that no write of an older leader can straddle. Every instance write is one
   * statement that reads the leadership row and holds saga_instance's ROW EXCLUSIVE lock; SHARE mode waits for
   * the writes in flight and holds back new ones until this commits. A held-back write takes its snapshot after
   * it got the lock (PostgreSQL snapshots a READ COMMITTED statement after parse-time locking), so it sees the
   * new token and is refused. The cost lands on the rare claim, not on every write (no row lock, no MultiXact).
   */
  private async fenced<T>(sql: string, parameters: unknown[]): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query('LOCK TABLE saga_instance IN SHARE MODE');
      const result = (await runner.query(sql, parameters, true)) as unknown as { records: T };
      await runner.commitTransaction();
      return result.records;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }

  /**
   * Creates an instance, its lifecycle events and the step rows of its first commands in one statement (one
   * round trip, one flush), if `fencingToken` is not older than the newest claimed. A known idempotency key
   * creates nothing and answers the existing instance.
   */
  async create(
    instance: {
      id: string;
      type: string;
      mode: 'saga' | '2pc';
      input: unknown;
      state: WorkflowStateBase;
      idempotencyKey: string | null;
      traceContext?: string | null;
    },
    events: readonly LifecycleEvent[],
    fencingToken: number,
    started: readonly StartedStep[] = [],
  ): Promise<CreateOutcome> {
    const hash = requestHash(instance.type, instance.mode, instance.input);
    const rows = await this.hot<InstanceRow & { newest: string }>(
      'saga_log_create',
      `WITH lead AS (SELECT fencing_token FROM saga_leadership WHERE id = 1),
       ins AS (
         INSERT INTO saga_instance (id, type, mode, status, reason, input, state, idempotency_key, request_hash,
                                    fencing_token, version, updated_at, trace_context)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, now(), $13
         WHERE $10 >= (SELECT fencing_token FROM lead)
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING ${instanceColumns}),
       steps AS (
         INSERT INTO saga_step (saga_id, key, step, subject, message_id, status, attempts, started_at)
         SELECT ins.id, s.key, s.step, s.subject, s.message_id, 'started', 0, now()
         FROM ins, jsonb_to_recordset($11::jsonb) AS s(key text, step text, subject text, message_id text)
         ON CONFLICT (saga_id, key) DO NOTHING),
       events AS (
         INSERT INTO saga_outbox (event_id, subject, payload)
         SELECT e.event_id, e.subject, e.payload
         FROM ins, jsonb_to_recordset($12::jsonb) AS e(event_id text, subject text, payload jsonb)
         ON CONFLICT (event_id) DO NOTHING)
       SELECT ins.*, (SELECT fencing_token FROM lead) AS newest FROM (SELECT 1) AS one LEFT JOIN ins ON true`,
      [
        instance.id,
        instance.type,
        instance.mode,
        instance.state.status,
        instance.state.reason ?? null,
        JSON.stringify(instance.input),
        JSON.stringify(instance.state),
        instance.idempotencyKey,
        hash,
        fencingToken,
        stepsJson(started),
        eventsJson(events),
        instance.traceContext ?? null,
      ],
    );
    const row = rows[0];
    if (row !== undefined && row.id !== null) return { kind: 'created', instance: toInstance(row) };
    const newest = Number(row?.newest ?? 0);
    if (newest > fencingToken) throw new FencedError(`fencing token ${fencingToken} is older than ${newest}`);
    const existing =
      instance.idempotencyKey === null ? undefined : await this.findByKey(instance.idempotencyKey);
    if (existing === undefined) throw new Error(`instance ${instance.id} neither created nor found`);
    return { kind: existing.requestHash === hash ? 'existing' : 'conflict', instance: existing };
  }

  /**
   * Marks a command as sent (first time only) and returns when it was first sent and how often so far. The live
   * path writes step rows with the transition that makes them outstanding; this is for resumed instances.
   */
  async stepStarted(
    sagaId: string,
    command: { key: string; step: string; subject: string },
    messageId: string,
  ): Promise<{ startedAtMs: number; attempts: number }> {
    const rows = await this.hot<{ started_at: Date; attempts: number }>(
      'saga_log_step_started',
      `INSERT INTO saga_step (saga_id, key, step, subject, message_id, status, attempts, started_at)
       VALUES ($1, $2, $3, $4, $5, 'started', 0, now())
       ON CONFLICT (saga_id, key) DO UPDATE SET attempts = saga_step.attempts
       RETURNING started_at, attempts`,
      [sagaId, command.key, command.step, command.subject, messageId],
    );
    const row = rows[0];
    if (row === undefined) throw new Error('saga_step upsert returned nothing');
    return { startedAtMs: row.started_at.getTime(), attempts: row.attempts };
  }

  /**
   * Writes a transition in one statement (one round trip, one commit), shared with the transitions of other
   * instances that queued meanwhile (group commit, see `pump`): the new state if the version and the token allow,
   * the finished step's outcome, the step rows of the commands it makes outstanding, and its lifecycle events.
   * `durable: false` commits without waiting for the WAL flush: only for a state that a re-sent command rebuilds
   * after a database crash (a participant answers a re-sent message id from its inbox); a shared statement is
   * flushed if any of its transitions must be. Throws FencedError or StaleVersionError when refused.
   */
  async transition(
    sagaId: string,
    expectedVersion: number,
    state: WorkflowStateBase,
    outcome: StepOutcome | undefined,
    events: readonly LifecycleEvent[],
    fencingToken: number,
    started: readonly StartedStep[] = [],
    durable = true,
  ): Promise<number> {
    const written = await new Promise<{ version: number | null; newest: number }>((resolve, reject) => {
      this.queued.push({
        write: { sagaId, expectedVersion, state, outcome, events, fencingToken, started, durable },
        resolve,
        reject,
      });
      this.pump();
    });
    if (written.version === null) {
      if (written.newest > fencingToken)
        throw new FencedError(`fencing token ${fencingToken} is older than ${written.newest}`);
      throw new StaleVersionError(
        `instance ${sagaId} moved past version ${expectedVersion} or has a newer token`,
      );
    }
    return written.version;
  }

  /**
   * Group commit without a timer: a transition goes at once while fewer than `transitionsInFlightMax` statements
   * are in flight (so one client, or a saga's parallel steps, never wait); otherwise it waits for one of them to
   * return, and everything that waited goes in one statement, one commit and one WAL flush. One instance never
   * has two transitions in one batch (its driver applies them one at a time; a second stays for the next batch).
   */
  private pump(): void {
    while (this.transitionsInFlight < this.transitionsInFlightMax && this.queued.length > 0) {
      const batch: QueuedTransition[] = [];
      const ids = new Set<string>();
      const rest: QueuedTransition[] = [];
      for (const item of this.queued.splice(0)) {
        if (ids.has(item.write.sagaId)) rest.push(item);
        else {
          ids.add(item.write.sagaId);
          batch.push(item);
        }
      }
      this.queued.push(...rest);
      this.transitionsInFlight += 1;
      void this.writeBatch(batch).finally(() => {
        this.transitionsInFlight -= 1;
        this.pump();
      });
    }
  }

  private async writeBatch(batch: readonly QueuedTransition[]): Promise<void> {
    try {
      const results =
        batch.length === 1 && batch[0] !== undefined
          ? [await this.writeOne(batch[0].write)]
          : await this.writeMany(batch.map((b) => b.write));
      batch.forEach((item, i) => item.resolve(results[i] ?? { version: null, newest: 0 }));
    } catch (error) {
      for (const item of batch) item.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * One transition in one statement (one round trip, one commit): the new state if the version and the token
   * allow, the finished step's outcome, the step rows of the commands it makes outstanding, and its lifecycle
   * events. Not durable (`synchronous_commit` off) only for a state that a re-sent command rebuilds after a
   * database crash (a participant answers a re-sent message id from its inbox).
   */
  private async writeOne(t: TransitionWrite): Promise<{ version: number | null; newest: number }> {
    const rows = await this.hot<{ version: number | null; newest: string }>(
      'saga_log_transition',
      `WITH lead AS (SELECT fencing_token FROM saga_leadership WHERE id = 1),
       upd AS (
         UPDATE saga_instance
         SET state = $3, status = $4, reason = $5, version = version + 1, fencing_token = $6, updated_at = now()
         WHERE id = $1 AND version = $2 AND fencing_token <= $6 AND $6 >= (SELECT fencing_token FROM lead)
         RETURNING version),
       outcome AS (
         UPDATE saga_step SET status = $8, reply = $9, attempts = attempts + $10, finished_at = now()
         WHERE saga_id = $1 AND key = $7 AND EXISTS (SELECT 1 FROM upd)),
       steps AS (
         INSERT INTO saga_step (saga_id, key, step, subject, message_id, status, attempts, started_at)
         SELECT $1, s.key, s.step, s.subject, s.message_id, 'started', 0, now()
         FROM upd, jsonb_to_recordset($11::jsonb) AS s(key text, step text, subject text, message_id text)
         ON CONFLICT (saga_id, key) DO NOTHING),
       events AS (
         INSERT INTO saga_outbox (event_id, subject, payload)
         SELECT e.event_id, e.subject, e.payload
         FROM upd, jsonb_to_recordset($12::jsonb) AS e(event_id text, subject text, payload jsonb)
         ON CONFLICT (event_id) DO NOTHING),
       flush AS (SELECT set_config('synchronous_commit', $13, true) AS setting)
       SELECT (SELECT version FROM upd) AS version, (SELECT fencing_token FROM lead) AS newest,
              (SELECT setting FROM flush) AS flush`,
      [
        t.sagaId,
        t.expectedVersion,
        JSON.stringify(t.state),
        t.state.status,
        t.state.reason ?? null,
        t.fencingToken,
        t.outcome?.key ?? null,
        t.outcome?.status ?? null,
        t.outcome === undefined ? null : JSON.stringify(t.outcome.reply),
        t.outcome?.attempts ?? 0,
        stepsJson(t.started),
        eventsJson(t.events),
        t.durable ? 'on' : 'off',
      ],
    );
    return { version: rows[0]?.version ?? null, newest: Number(rows[0]?.newest ?? 0) };
  }

  /**
   * Several transitions of different instances in one statement: each row checked and written exactly as
   * {@link writeOne} would (same version and token conditions), one commit, flushed if any of them must be.
   */
  private async writeMany(
    writes: readonly TransitionWrite[],
  ): Promise<Array<{ version: number | null; newest: number }>> {
    const input = JSON.stringify(
      writes.map((t, i) => ({
        n: i,
        id: t.sagaId,
        expected: t.expectedVersion,
        state: t.state,
        status: t.state.status,
        reason: t.state.reason ?? null,
        token: t.fencingToken,
        okey: t.outcome?.key ?? null,
        ostatus: t.outcome?.status ?? null,
        oreply: t.outcome === undefined ? null : (t.outcome.reply ?? null),
        oattempts: t.outcome?.attempts ?? 0,
        steps: t.started.map((s) => ({
          key: s.key,
          step: s.step,
          subject: s.subject,
          message_id: s.messageId,
        })),
        events: t.events.map((e) => ({ event_id: e.eventId, subject: e.subject, payload: e.payload })),
      })),
    );
    const rows = await this.hot<{ n: number; version: number | null; newest: string }>(
      'saga_log_transitions',
      `WITH lead AS (SELECT fencing_token FROM saga_leadership WHERE id = 1),
       t AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(n int, id text, expected int, state jsonb, status text,
           reason text, token bigint, okey text, ostatus text, oreply jsonb, oattempts int, steps jsonb, events jsonb)),
       upd AS (
         UPDATE saga_instance i
         SET state = t.state, status = t.status, reason = t.reason, version = i.version + 1,
             fencing_token = t.token, updated_at = now()
         FROM t
         WHERE i.id = t.id AND i.version = t.expected AND i.fencing_token <= t.token
           AND t.token >= (SELECT fencing_token FROM lead)
         RETURNING i.id, i.version),
       outcome AS (
         UPDATE saga_step s SET status = t.ostatus, reply = t.oreply, attempts = s.attempts + t.oattempts,
                finished_at = now()
         FROM t JOIN upd ON upd.id = t.id
         WHERE s.saga_id = t.id AND s.key = t.okey),
       steps AS (
         INSERT INTO saga_step (saga_id, key, step, subject, message_id, status, attempts, started_at)
         SELECT t.id, s.key, s.step, s.subject, s.message_id, 'started', 0, now()
         FROM t JOIN upd ON upd.id = t.id,
              jsonb_to_recordset(t.steps) AS s(key text, step text, subject text, message_id text)
         ON CONFLICT (saga_id, key) DO NOTHING),
       events AS (
         INSERT INTO saga_outbox (event_id, subject, payload)
         SELECT e.event_id, e.subject, e.payload
         FROM t JOIN upd ON upd.id = t.id,
              jsonb_to_recordset(t.events) AS e(event_id text, subject text, payload jsonb)
         ORDER BY t.n
         ON CONFLICT (event_id) DO NOTHING),
       flush AS (SELECT set_config('synchronous_commit', $2, true) AS setting)
       SELECT t.n, upd.version, (SELECT fencing_token FROM lead) AS newest, (SELECT setting FROM flush) AS flush
       FROM t LEFT JOIN upd ON upd.id = t.id`,
      [input, writes.some((t) => t.durable) ? 'on' : 'off'],
    );
    const results = writes.map(() => ({ version: null as number | null, newest: 0 }));
    for (const row of rows) results[row.n] = { version: row.version, newest: Number(row.newest) };
    return results;
  }

  async find(id: string): Promise<InstanceRecord | undefined> {
    const rows = await this.hot<InstanceRow>(
      'saga_log_find',
      `SELECT ${instanceColumns} FROM saga_instance WHERE id = $1`,
      [id],
    );
    return rows[0] === undefined ? undefined : toInstance(rows[0]);
  }

  async findByKey(idempotencyKey: string): Promise<InstanceRecord | undefined> {
    const rows = await this.hot<InstanceRow>(
      'saga_log_find_by_key',
      `SELECT ${instanceColumns} FROM saga_instance WHERE idempotency_key = $1`,
      [idempotencyKey],
    );
    return rows[0] === undefined ? undefined : toInstance(rows[0]);
  }

  async steps(sagaId: string): Promise<StepRecord[]> {
    const rows = await this.dataSource.query<StepRow[]>(
      `SELECT key, step, subject, message_id, status, reply, attempts, started_at, finished_at
       FROM saga_step WHERE saga_id = $1 ORDER BY id`,
      [sagaId],
    );
    return rows.map((r) => ({
      key: r.key,
      step: r.step,
      subject: r.subject,
      messageId: r.message_id,
      status: r.status,
      reply: r.reply,
      attempts: r.attempts,
      startedAt: r.started_at.toISOString(),
      finishedAt: r.finished_at?.toISOString() ?? null,
    }));
  }

  /** Instances, newest first, filtered; `before` is the `createdAt|id` cursor of the previous page. */
  async list(filter: {
    status?: string | undefined;
    type?: string | undefined;
    mode?: string | undefined;
    limit: number;
  }): Promise<InstanceRecord[]> {
    const rows = await this.dataSource.query<InstanceRow[]>(
      `SELECT ${instanceColumns} FROM saga_instance
       WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR mode = $3)
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [filter.status ?? null, filter.type ?? null, filter.mode ?? null, filter.limit],
    );
    return rows.map(toInstance);
  }

  async unfinishedIds(finished: readonly string[]): Promise<string[]> {
    const rows = await this.dataSource.query<Array<{ id: string }>>(
      'SELECT id FROM saga_instance WHERE NOT (status = ANY($1)) ORDER BY created_at',
      [finished],
    );
    return rows.map((r) => r.id);
  }

  async countByStatus(): Promise<Record<string, number>> {
    const rows = await this.dataSource.query<Array<{ status: string; n: number }>>(
      'SELECT status, count(*)::int AS n FROM saga_instance GROUP BY status',
    );
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /** Unfinished instances by type, mode, status and the step they wait on (a step row still `started`). */
  async countWaitingByStep(): Promise<
    Array<{ type: string; mode: string; status: string; step: string; n: number }>
  > {
    return this.dataSource.query(
      `SELECT i.type, i.mode, i.status, COALESCE(s.step, '-') AS step, count(*)::int AS n
         FROM saga_instance i LEFT JOIN saga_step s ON s.saga_id = i.id AND s.status = 'started'
        WHERE i.status NOT IN ('completed', 'compensated', 'committed', 'aborted', 'failed')
        GROUP BY i.type, i.mode, i.status, COALESCE(s.step, '-')`,
    );
  }

  /** Unfinished 2PC instances that have not moved for `olderThanSeconds` (in doubt). */
  async countInDoubt(olderThanSeconds: number): Promise<number> {
    const rows = await this.dataSource.query<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM saga_instance
        WHERE mode = '2pc' AND status NOT IN ('committed', 'aborted', 'failed')
          AND updated_at < now() - make_interval(secs => $1)`,
      [olderThanSeconds],
    );
    return rows[0]?.n ?? 0;
  }

  /** Seconds since the least recently updated unsettled instance last moved (0 when every one is settled). */
  async oldestUnsettledSeconds(): Promise<number> {
    const rows = await this.dataSource.query<Array<{ s: number }>>(
      `SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(updated_at)), 0)::float8 AS s FROM saga_instance
        WHERE status NOT IN ('completed', 'compensated', 'committed', 'aborted', 'failed')`,
    );
    return rows[0]?.s ?? 0;
  }

  /** Up to `limit` unpublished outbox rows, oldest first. */
  async unpublished(
    limit: number,
  ): Promise<Array<{ id: string; eventId: string; subject: string; payload: unknown }>> {
    const rows = await this.dataSource.query<
      Array<{ id: string; event_id: string; subject: string; payload: unknown }>
    >(
      `SELECT id, event_id, subject, payload FROM saga_outbox WHERE published_at IS NULL ORDER BY id LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({ id: r.id, eventId: r.event_id, subject: r.subject, payload: r.payload }));
  }

  async markPublished(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.dataSource.query('UPDATE saga_outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [
      ids,
    ]);
  }
}
