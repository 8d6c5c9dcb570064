import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Column, DataSource, Entity, PrimaryColumn, type EntityManager } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandEnvelope, Decide, Prepare, Reply } from '@concord/contracts';
import { startPostgres, type PostgresHandle } from '@concord/infra';
import { rekeyFences } from './fence-keys.js';
import { makeGid } from './gid.js';
import { recoverInDoubt } from './in-doubt-recovery.js';
import { participantEntities } from './participant.entities.js';
import { participantMigrations } from './participant.migration.js';
import { Participant, StaleFencingTokenError } from './participant.js';

/** A toy business table: one counter per key, changed by the work functions below. */
@Entity({ name: 'counter' })
class CounterEntity {
  @PrimaryColumn({ type: 'text' })
  key!: string;

  @Column({ type: 'integer' })
  value!: number;
}

describe('participant kit on a real PostgreSQL', () => {
  let server: PostgresHandle;
  let dataSource: DataSource;
  let participant: Participant;

  beforeAll(async () => {
    server = await startPostgres({ databases: ['participant'] });
    dataSource = new DataSource({
      type: 'postgres',
      url: server.url('participant'),
      entities: [CounterEntity, ...participantEntities],
      migrations: participantMigrations,
      poolSize: 8,
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    await dataSource.query('CREATE TABLE counter (key text PRIMARY KEY, value integer NOT NULL)');
    participant = new Participant(dataSource, { service: 'rooms' });
  });

  afterAll(async () => {
    await participant?.close();
    await dataSource?.destroy();
    await server?.stop();
  });

  function envelope<P>(step: string, payload: P, transactionId: string = randomUUID()): CommandEnvelope<P> {
    return { messageId: randomUUID(), transactionId, step, payload };
  }

  const add =
    (key: string, delta: number) =>
    async (em: EntityManager): Promise<Reply<{ value: number }>> => {
      await em.query(
        `INSERT INTO counter (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = counter.value + EXCLUDED.value`,
        [key, delta],
      );
      const rows: Array<{ value: number }> = await em.query('SELECT value FROM counter WHERE key = $1', [
        key,
      ]);
      return { ok: true, result: { value: rows[0]?.value ?? 0 } };
    };

  async function valueOf(key: string): Promise<number | undefined> {
    const rows: Array<{ value: number }> = await dataSource.query(
      'SELECT value FROM counter WHERE key = $1',
      [key],
    );
    return rows[0]?.value;
  }

  async function preparedCount(): Promise<number> {
    const rows: unknown[] = await dataSource.query('SELECT gid FROM pg_prepared_xacts');
    return rows.length;
  }

  it('answers a duplicate message with the first reply and applies the effect once', async () => {
    const key = randomUUID();
    const env = envelope('reserve', {});
    const first = await participant.action(env, 'counter.add', add(key, 5));
    const again = await participant.action(env, 'counter.add', add(key, 5));
    expect(first).toEqual({ ok: true, result: { value: 5 } });
    expect(again).toEqual(first);
    expect(await valueOf(key)).toBe(5);
  });

  it('refuses a command carrying a fencing token older than one it has seen, and runs nothing', async () => {
    const fresh = new Participant(dataSource, { service: 'rooms' });
    try {
      const key = randomUUID();
      expect(
        await fresh.action({ ...envelope('reserve', {}), fencingToken: 7 }, 'counter.add', add(key, 1)),
      ).toMatchObject({
        ok: true,
      });
      await expect(
        fresh.action({ ...envelope('reserve', {}), fencingToken: 6 }, 'counter.add', add(key, 1)),
      ).rejects.toBeInstanceOf(StaleFencingTokenError);
      expect(await valueOf(key)).toBe(1);
      expect(
        await fresh.action({ ...envelope('reserve', {}), fencingToken: 8 }, 'counter.add', add(key, 1)),
      ).toMatchObject({
        ok: true,
      });
      expect(await valueOf(key)).toBe(2);
    } finally {
      await fresh.close();
    }
  });

  it('prunes inbox and fence rows past their retention, and keeps younger ones', async () => {
    const old = envelope('reserve', {});
    const young = envelope('reserve', {});
    await participant.action(old, 'counter.add', add(randomUUID(), 1));
    await participant.action(young, 'counter.add', add(randomUUID(), 1));
    await dataSource.query(
      `UPDATE saga_inbox SET created_at = now() - interval '8 days' WHERE message_id = $1`,
      [old.messageId],
    );
    await dataSource.query(
      `UPDATE saga_fence SET created_at = now() - interval '8 days' WHERE transaction_id = $1`,
      [old.transactionId],
    );
    expect(await participant.prune(7 * 24 * 3600 * 1000)).toEqual({ inbox: 1, fence: 1 });
    const left: unknown[] = await dataSource.query(
      'SELECT 1 FROM saga_inbox i JOIN saga_fence f USING (transaction_id) WHERE i.message_id = $1',
      [young.messageId],
    );
    expect(left.length).toBe(1);
    expect(await participant.prune(7 * 24 * 3600 * 1000)).toEqual({ inbox: 0, fence: 0 });
  });

  it('applies concurrent deliveries of one message once', async () => {
    const key = randomUUID();
    const env = envelope('reserve', {});
    const replies = await Promise.all(
      Array.from({ length: 6 }, () => participant.action(env, 'counter.add', add(key, 1))),
    );
    expect(new Set(replies.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(await valueOf(key)).toBe(1);
  });

  it('records a refusal: the business change is rolled back and a duplicate gets the same refusal', async () => {
    const key = randomUUID();
    const env = envelope('reserve', {});
    let calls = 0;
    const refuse = async (em: EntityManager): Promise<Reply<never>> => {
      calls += 1;
      await add(key, 7)(em);
      return { ok: false, reason: 'nothing left' };
    };
    expect(await participant.action(env, 'counter.add', refuse)).toEqual({
      ok: false,
      reason: 'nothing left',
    });
    expect(await participant.action(env, 'counter.add', refuse)).toEqual({
      ok: false,
      reason: 'nothing left',
    });
    expect(calls).toBe(1);
    expect(await valueOf(key)).toBeUndefined();
  });

  it('compensates an action that ran, once', async () => {
    const key = randomUUID();
    const action = envelope('reserve', {});
    await participant.action(action, 'counter.add', add(key, 3));
    const undo = envelope('release', {}, action.transactionId);
    const undoWork = async (em: EntityManager): Promise<Reply<null>> => {
      await add(key, -3)(em);
      return { ok: true, result: null };
    };
    expect(await participant.compensation(undo, 'counter.add', undoWork)).toEqual({ ok: true, result: null });
    expect(await participant.compensation(undo, 'counter.add', undoWork)).toEqual({ ok: true, result: null });
    // A second compensation message for the same step (another message id) is a no-op too.
    const undoAgain = envelope('release', {}, action.transactionId);
    expect(await participant.compensation(undoAgain, 'counter.add', undoWork)).toEqual({
      ok: true,
      result: null,
    });
    expect(await valueOf(key)).toBe(0);
  });

  it('compensation before its action leaves a marker and the late action is refused', async () => {
    const key = randomUUID();
    const transactionId = randomUUID();
    let compensated = 0;
    const undo = await participant.compensation(
      envelope('release', {}, transactionId),
      'counter.add',
      async () => {
        compensated += 1;
        return { ok: true, result: null };
      },
    );
    expect(undo).toEqual({ ok: true, result: null });
    expect(compensated).toBe(0);
    const late = await participant.action(envelope('book', {}, transactionId), 'counter.add', add(key, 4));
    expect(late).toEqual({ ok: false, reason: 'compensated' });
    expect(await valueOf(key)).toBeUndefined();
    const marker: Array<{ status: string }> = await dataSource.query(
      'SELECT status FROM saga_fence WHERE transaction_id = $1 AND step = $2',
      [transactionId, 'counter.add'],
    );
    expect(marker).toEqual([{ status: 'suspended' }]);
  });

  it('re-keys step-name fences to subjects in place (the upgrade migration), and stops on a row under both', async () => {
    const ran = randomUUID();
    const compensatedFirst = randomUUID();
    await dataSource.query(
      `INSERT INTO saga_fence (transaction_id, step, status) VALUES ($1, 'book-room', 'tried'), ($2, 'book-room', 'suspended')`,
      [ran, compensatedFirst],
    );
    const rekey = async (): Promise<void> => {
      const runner = dataSource.createQueryRunner();
      await runner.connect();
      try {
        await runner.startTransaction();
        await rekeyFences(runner, [['book-room', 'counter.add']]);
        await runner.commitTransaction();
      } catch (error) {
        await runner.rollbackTransaction();
        throw error;
      } finally {
        await runner.release();
      }
    };
    await rekey();
    // A compensation arriving after the upgrade finds the action that ran before it, and undoes it.
    let undone = 0;
    const undo = await participant.compensation(envelope('release', {}, ran), 'counter.add', async () => {
      undone += 1;
      return { ok: true, result: null };
    });
    expect(undo).toEqual({ ok: true, result: null });
    expect(undone).toBe(1);
    // A late action finds the marker its compensation left before the upgrade.
    const key = randomUUID();
    expect(
      await participant.action(envelope('book', {}, compensatedFirst), 'counter.add', add(key, 1)),
    ).toEqual({ ok: false, reason: 'compensated' });
    expect(await valueOf(key)).toBeUndefined();
    // Both keys for one transaction (old and new instances writing at once) is not guessed at.
    const both = randomUUID();
    await dataSource.query(
      `INSERT INTO saga_fence (transaction_id, step, status) VALUES ($1, 'book-room', 'tried'), ($1, 'counter.add', 'suspended')`,
      [both],
    );
    await expect(rekey()).rejects.toThrow(both);
    await dataSource.query('DELETE FROM saga_fence WHERE transaction_id = $1', [both]);
  });

  describe('two-phase commit', () => {
    function prepareEnvelope(transactionId: string = randomUUID()): CommandEnvelope<Prepare<unknown>> {
      return envelope('prepare', { gid: makeGid('rooms', transactionId), operation: {} }, transactionId);
    }
    function decideEnvelope(prepare: CommandEnvelope<Prepare<unknown>>): CommandEnvelope<Decide> {
      return envelope('decide', { gid: prepare.payload.gid }, prepare.transactionId);
    }

    it('prepare holds the work invisible until commit; repeats of prepare and commit are idempotent', async () => {
      const key = randomUUID();
      const env = prepareEnvelope();
      const first = await participant.prepare(env, add(key, 2));
      expect(first).toEqual({ ok: true, result: { gid: env.payload.gid, result: { value: 2 } } });
      expect(await participant.prepare(env, add(key, 2))).toEqual(first);
      // Re-sent under a new message id while prepared: answered from the kept reply, without waiting on the rows
      // the prepared transaction holds.
      expect(await participant.prepare({ ...env, messageId: randomUUID() }, add(key, 2))).toEqual(first);
      expect(await valueOf(key)).toBeUndefined();
      expect(await participant.listPrepared(0)).toContain(env.payload.gid);
      expect(await participant.commitPrepared(decideEnvelope(env))).toEqual({ ok: true, result: null });
      expect(await participant.commitPrepared(decideEnvelope(env))).toEqual({ ok: true, result: null });
      expect(await participant.abortPrepared(decideEnvelope(env))).toEqual({
        ok: false,
        reason: 'already committed',
      });
      // After the commit a repeated prepare finds its committed inbox row: same answer, no second effect.
      expect(await participant.prepare(env, add(key, 2))).toEqual(first);
      expect(await valueOf(key)).toBe(2);
      expect(await participant.listPrepared(0)).not.toContain(env.payload.gid);
    });

    it('abort rolls the prepared work back, idempotently, and fences out a late prepare', async () => {
      const key = randomUUID();
      const env = prepareEnvelope();
      await participant.prepare(env, add(key, 2));
      expect(await participant.abortPrepared(decideEnvelope(env))).toEqual({ ok: true, result: null });
      expect(await participant.abortPrepared(decideEnvelope(env))).toEqual({ ok: true, result: null });
      expect(await valueOf(key)).toBeUndefined();
      // An abort that overtook its prepare: the prepare arriving afterwards is refused, nothing is prepared.
      const overtaken = prepareEnvelope();
      expect(await participant.abortPrepared(decideEnvelope(overtaken))).toEqual({ ok: true, result: null });
      expect(await participant.prepare(overtaken, add(key, 9))).toEqual({ ok: false, reason: 'aborted' });
      expect(await participant.listPrepared(0)).not.toContain(overtaken.payload.gid);
      expect(await valueOf(key)).toBeUndefined();
    });

    it('a refused prepare prepares nothing and its refusal is answered again', async () => {
      const env = prepareEnvelope();
      const refuse = async (): Promise<Reply<never>> => ({ ok: false, reason: 'declined' });
      expect(await participant.prepare(env, refuse)).toEqual({ ok: false, reason: 'declined' });
      expect(await participant.prepare(env, refuse)).toEqual({ ok: false, reason: 'declined' });
      expect(await participant.listPrepared(0)).not.toContain(env.payload.gid);
    });

    it('rejects a gid of another service', async () => {
      const env = envelope('prepare', { gid: makeGid('cards', randomUUID()), operation: {} });
      await expect(participant.prepare(env, add('x', 1))).rejects.toThrow(/does not belong/);
    });

    it('recovery resolves transactions prepared by a process that was killed', async () => {
      const committedId = randomUUID();
      const abortedId = randomUUID();
      const orphanKey = randomUUID();
      // A separate process prepares two transactions and is SIGKILLed: nobody is left to decide them.
      const script = `
        import pg from 'pg';
        const client = new pg.Client({ connectionString: process.argv[1] });
        await client.connect();
        for (const id of process.argv.slice(2)) {
          await client.query('BEGIN');
          await client.query("INSERT INTO counter (key, value) VALUES ($1, 1)", [process.argv[2] === id ? '${orphanKey}' : id]);
          await client.query("PREPARE TRANSACTION 'rooms:" + id + "'");
        }
        process.kill(process.pid, 'SIGKILL');
      `;
      const child = spawn(
        process.execPath,
        ['--input-type=module', '-e', script, server.url('participant'), committedId, abortedId],
        { stdio: 'inherit' },
      );
      const [, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      expect(signal).toBe('SIGKILL');
      expect(await participant.listPrepared(0)).toEqual(
        expect.arrayContaining([makeGid('rooms', committedId), makeGid('rooms', abortedId)]),
      );
      const asked: string[] = [];
      const pass = await recoverInDoubt(
        participant,
        async (query) => {
          asked.push(query.transactionId);
          return { ok: true, result: { decision: query.transactionId === committedId ? 'commit' : 'abort' } };
        },
        0,
      );
      expect(pass.failed).toBe(0);
      expect(asked).toEqual(expect.arrayContaining([committedId, abortedId]));
      expect(await preparedCount()).toBe(0);
      expect(await valueOf(orphanKey)).toBe(1);
      expect(await valueOf(abortedId)).toBeUndefined();
    });

    it('recovery leaves young prepared transactions to the live protocol', async () => {
      const env = prepareEnvelope();
      await participant.prepare(env, add(randomUUID(), 1));
      let asked = 0;
      const pass = await recoverInDoubt(
        participant,
        async () => {
          asked += 1;
          return { ok: true, result: { decision: 'abort' } };
        },
        60_000,
      );
      expect(pass.found).toBe(0);
      expect(asked).toBe(0);
      await participant.abortPrepared(decideEnvelope(env));
      expect(await preparedCount()).toBe(0);
    });
  });
});
