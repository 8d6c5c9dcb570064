import { describe, expect, it } from 'vitest';
import type { Reply } from '@concord/contracts';
import { bookTripSaga, bookTripTwoPhase } from '../testing/book-trip.js';
import type { WorkflowStateBase } from '../definition/workflow.js';
import type { CommandSender } from '../transport/nest-nats.js';
import type { LeadershipPort } from './leadership.js';
import {
  FencedError,
  requestHash,
  type CreateOutcome,
  type InstanceRecord,
  type SagaLog,
} from './saga-log.js';
import { SagaRuntime } from './saga-runtime.js';

/**
 * The runtime against an in-memory log and a scripted transport, recording one trace of writes and sends: the
 * rule "persist, then send" is checked on it, with no database and no broker.
 */
class MemoryLog {
  readonly trace: string[] = [];
  /** Per write, whether it waited for its WAL flush. */
  readonly flushes: boolean[] = [];
  readonly instances = new Map<string, InstanceRecord>();
  newestToken = 1;

  /** An unfinished instance as a previous leader left it in the log (version 1, token 1), to be resumed. */
  seed(id: string, type: string, input: unknown, state: WorkflowStateBase): void {
    this.instances.set(id, {
      id,
      type,
      mode: 'saga',
      status: state.status,
      reason: null,
      input,
      state,
      idempotencyKey: id,
      requestHash: '',
      fencingToken: 1,
      version: 1,
      createdAt: '',
      updatedAt: '',
    });
  }

  async findByKey(key: string): Promise<InstanceRecord | undefined> {
    return [...this.instances.values()].find((i) => i.idempotencyKey === key);
  }
  async find(id: string): Promise<InstanceRecord | undefined> {
    return this.instances.get(id);
  }
  async create(
    instance: {
      id: string;
      type: string;
      mode: 'saga' | '2pc';
      input: unknown;
      state: WorkflowStateBase;
      idempotencyKey: string | null;
    },
    _events: unknown,
    token: number,
    started: ReadonlyArray<{ key: string }> = [],
  ): Promise<CreateOutcome> {
    if (token < this.newestToken) throw new FencedError('old token');
    // As the real log: a known idempotency key creates nothing and answers the existing instance.
    const known =
      instance.idempotencyKey === null ? undefined : await this.findByKey(instance.idempotencyKey);
    if (known !== undefined) {
      const same = known.requestHash === requestHash(instance.type, instance.mode, instance.input);
      return { kind: same ? 'existing' : 'conflict', instance: known };
    }
    const record: InstanceRecord = {
      ...instance,
      status: instance.state.status,
      reason: null,
      requestHash: requestHash(instance.type, instance.mode, instance.input),
      fencingToken: token,
      version: 1,
      createdAt: '',
      updatedAt: '',
    };
    this.instances.set(instance.id, record);
    this.trace.push(`write ${instance.state.status}`);
    for (const step of started) this.trace.push(`started ${step.key}`);
    this.flushes.push(true);
    return { kind: 'created', instance: record };
  }
  async stepStarted(
    _id: string,
    command: { key: string },
  ): Promise<{ startedAtMs: number; attempts: number }> {
    this.trace.push(`started ${command.key}`);
    return { startedAtMs: Date.now(), attempts: 0 };
  }
  async transition(
    id: string,
    version: number,
    state: WorkflowStateBase,
    _o: unknown,
    _e: unknown,
    token: number,
    started: ReadonlyArray<{ key: string }> = [],
    durable = true,
  ) {
    if (token < this.newestToken) throw new FencedError('old token');
    const current = this.instances.get(id);
    if (current === undefined || current.version !== version) throw new Error('stale');
    this.instances.set(id, { ...current, state, status: state.status, version: version + 1 });
    this.trace.push(`write ${state.status}`);
    for (const step of started) this.trace.push(`started ${step.key}`);
    this.flushes.push(durable);
    return version + 1;
  }
  async unfinishedIds(): Promise<string[]> {
    return [...this.instances.values()]
      .filter((i) => !['completed', 'compensated', 'committed', 'aborted', 'failed'].includes(i.status))
      .map((i) => i.id);
  }
}

function leadership(token = 1): LeadershipPort & { leader: boolean } {
  return {
    leader: true,
    start: async () => undefined,
    stop: async () => undefined,
    isLeader() {
      return this.leader;
    },
    fencingToken: () => token,
    onChange: () => () => undefined,
    deposed() {
      this.leader = false;
    },
  };
}

const input = { tripId: 't-1', travellerId: 'c-1', nights: 1 };
const priced = { priceCents: 100 };

function scripted(log: MemoryLog, answer: (subject: string) => Reply<unknown>): CommandSender {
  return async (subject: string) => {
    log.trace.push(`send ${subject}`);
    return answer(subject);
  };
}

async function finished(log: MemoryLog, statuses: readonly string[]): Promise<InstanceRecord> {
  for (let i = 0; i < 200; i += 1) {
    const done = [...log.instances.values()].find((r) => statuses.includes(r.status));
    if (done !== undefined) return done;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`no instance reached ${statuses.join('/')}: ${log.trace.join(', ')}`);
}

describe('saga runtime (in-memory log, scripted transport)', () => {
  it('writes each transition one after the other, and sends a command only after its durable ancestors are written', async () => {
    const log = new MemoryLog();
    const send = scripted(log, (s) =>
      s === 'rooms.book' ? { ok: true, result: priced } : { ok: true, result: null },
    );
    const runtime = new SagaRuntime(log as unknown as SagaLog, leadership(), send, [bookTripSaga()]);
    await runtime.start('book-trip', 'saga', input, 'k-1');
    await finished(log, ['completed']);
    expect(log.trace.slice(0, 9)).toEqual([
      'write running',
      'started book-room',
      'send rooms.book',
      'write running',
      'started hold-card',
      'send cards.hold',
      // Past the pivot, the room's confirmation and the charge are written as started together and sent at once.
      'write running',
      'started confirm-room',
      'started charge-card',
    ]);
    expect(log.trace.slice(9, 11).sort()).toEqual(['send cards.charge', 'send rooms.confirm']);
    // The trip is confirmed only once both answered: the transition that makes it outstanding writes it.
    expect(log.trace.slice(11)).toEqual([
      'write running',
      'write running',
      'started confirm-trip',
      'send trips.settle',
      'write completed',
    ]);
    // The creation is flushed; every later state was reached on an answer a re-send gets again from the
    // participants' inboxes, so none waits for its flush.
    expect(log.flushes).toEqual([true, false, false, false, false, false]);
  });

  it('sends the next command while a rebuildable state is still being written, and stops when that write is fenced', async () => {
    const log = new MemoryLog();
    const gate: Array<() => void> = [];
    const transition = log.transition.bind(log);
    // Writes without a flush wait until the test lets them land.
    log.transition = async (...args: Parameters<MemoryLog['transition']>) => {
      if (args[7] === false) await new Promise<void>((resolve) => gate.push(resolve));
      return transition(...args);
    };
    const send = scripted(log, (s) =>
      s === 'rooms.book' ? { ok: true, result: priced } : { ok: true, result: null },
    );
    const runtime = new SagaRuntime(log as unknown as SagaLog, leadership(), send, [bookTripSaga()]);
    await runtime.start('book-trip', 'saga', input, 'k-behind');
    for (let i = 0; i < 50 && !log.trace.includes('send cards.hold'); i += 1) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    // book-room's answer is not written yet, and hold-card has left: the write is behind the command.
    expect(log.trace).toEqual(['write running', 'started book-room', 'send rooms.book', 'send cards.hold']);
    // The log now refuses this term: the write behind is fenced, and nothing more is sent.
    log.newestToken = 2;
    for (let i = 0; i < 50 && gate.length > 0; i += 1) {
      gate.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await runtime.stopAll();
    expect(log.trace).toEqual(['write running', 'started book-room', 'send rooms.book', 'send cards.hold']);
    expect([...log.instances.values()][0]?.version).toBe(1);
  });

  it('writes the 2PC commit decision before any commit is sent', async () => {
    const log = new MemoryLog();
    const send = scripted(log, (s) =>
      s.endsWith('.prepare')
        ? { ok: true, result: { gid: 'x', result: priced } }
        : { ok: true, result: null },
    );
    const runtime = new SagaRuntime(log as unknown as SagaLog, leadership(), send, [bookTripTwoPhase()]);
    await runtime.start('book-trip', '2pc', input, 'k-2');
    await finished(log, ['committed']);
    const decision = log.trace.indexOf('write committing');
    const firstCommit = log.trace.findIndex((t) => t.endsWith('.2pc.commit'));
    expect(decision).toBeGreaterThan(-1);
    expect(firstCommit).toBeGreaterThan(decision);
    // The decision (the third write: created, first prepared, decided) waits for its flush; nothing else does.
    const writes = log.trace.filter((t) => t.startsWith('write '));
    expect(writes[2]).toBe('write committing');
    expect(log.flushes[2]).toBe(true);
    expect(log.flushes.filter((durable, i) => durable && i !== 0 && i !== 2)).toEqual([]);
  });

  it('re-sends after a transport failure, with the same message id', async () => {
    const log = new MemoryLog();
    const ids: string[] = [];
    let failures = 2;
    const send = (async (subject: string, envelope: { messageId: string }) => {
      if (subject === 'rooms.book') {
        ids.push(envelope.messageId);
        if (failures-- > 0) throw new Error('timeout');
        return { ok: true, result: priced };
      }
      return { ok: true, result: null };
    }) as unknown as CommandSender;
    const runtime = new SagaRuntime(log as unknown as SagaLog, leadership(), send, [bookTripSaga()], {
      random: () => 0.99,
    });
    await runtime.start('book-trip', 'saga', input, 'k-3');
    const done = await waitCompleted(log);
    expect(ids).toHaveLength(3);
    expect(new Set(ids)).toEqual(new Set([`${done.id}:book-room`]));
  });

  it('stops driving and steps down when the log refuses its fencing token', async () => {
    const log = new MemoryLog();
    const port = leadership(1);
    const send = scripted(log, () => {
      log.newestToken = 2; // another leader claimed a newer token while this command was in flight
      return { ok: true, result: priced };
    });
    const runtime = new SagaRuntime(log as unknown as SagaLog, port, send, [bookTripSaga()]);
    await runtime.start('book-trip', 'saga', input, 'k-4');
    for (let i = 0; i < 100 && port.leader; i += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(port.leader).toBe(false);
    await runtime.stopAll();
    expect(log.trace.filter((t) => t.startsWith('send'))).toEqual(['send rooms.book']);
  });

  it('gives a step up at its deadline by the injected clock, not by waiting', async () => {
    const log = new MemoryLog();
    let nowMs = 1_000_000;
    const send = (async (subject: string) => {
      if (subject === 'rooms.book') {
        nowMs += 20_000; // each attempt "takes" 20 s: past the 15 s step deadline after the first
        throw new Error('timeout');
      }
      return { ok: true, result: null };
    }) as unknown as CommandSender;
    const runtime = new SagaRuntime(log as unknown as SagaLog, leadership(), send, [bookTripSaga()], {
      clock: () => nowMs,
      random: () => 0,
    });
    const startedAt = Date.now();
    await runtime.start('book-trip', 'saga', input, 'k-clock');
    for (let i = 0; i < 400 && ![...log.instances.values()].some((r) => r.status === 'compensated'); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const done = await finished(log, ['compensated']);
    expect(Date.now() - startedAt).toBeLessThan(5_000); // far less than the 15 s deadline
    expect((done.state as { reason?: string }).reason).toBe('book-room: no answer before the deadline');
  });

  it('asks a resumed step once before giving it up, so an answer already given is taken again', async () => {
    // The instance as a database crash can leave it: the write after book-room's answer was not flushed, but the
    // commands it made outstanding had left. book-room started long past its deadline.
    const log = new MemoryLog();
    const nowMs = 5_000_000;
    const saga = bookTripSaga();
    const id = 'resumed-late';
    const state = saga.start(input, id);
    log.seed(id, 'book-trip', input, state);
    log.stepStarted = async (_id: string, command: { key: string }) => {
      log.trace.push(`started ${command.key}`);
      return { startedAtMs: nowMs - 60_000, attempts: 1 };
    };
    const sent: string[] = [];
    const send = (async (subject: string) => {
      sent.push(subject);
      return subject === 'rooms.book' ? { ok: true, result: priced } : { ok: true, result: null };
    }) as unknown as CommandSender;
    const runtime = new SagaRuntime(log as unknown as SagaLog, leadership(), send, [saga], {
      clock: () => nowMs,
      random: () => 0,
    });
    expect(await runtime.resumeAll()).toBe(1);
    const done = await finished(log, ['completed', 'compensated']);
    expect(done.status).toBe('completed');
    expect(sent[0]).toBe('rooms.book');
    expect(sent.filter((subject) => subject.endsWith('.release') || subject.endsWith('.cancel'))).toEqual([]);
    await runtime.stopAll();
  });

  it('resumes a backlog at most resumeConcurrencyMax instances at a time', async () => {
    const log = new MemoryLog();
    const saga = bookTripSaga();
    for (let i = 0; i < 6; i += 1) {
      const id = `backlog-${i}`;
      const state = saga.start({ ...input, tripId: `t-${i}` }, id);
      log.seed(id, 'book-trip', input, state);
    }
    let inFlight = 0;
    let inFlightMax = 0;
    const send = (async (subject: string) => {
      inFlight += 1;
      inFlightMax = Math.max(inFlightMax, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight -= 1;
      return subject === 'rooms.book' ? { ok: true, result: priced } : { ok: true, result: null };
    }) as unknown as CommandSender;
    const runtime = new SagaRuntime(log as unknown as SagaLog, leadership(), send, [saga], {
      resumeConcurrencyMax: 2,
    });
    expect(await runtime.resumeAll()).toBe(6);
    for (let i = 0; i < 500 && [...log.instances.values()].some((r) => r.status !== 'completed'); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect([...log.instances.values()].every((r) => r.status === 'completed')).toBe(true);
    // Two instances at a time; each may have its three post-pivot steps in flight together.
    expect(inFlightMax).toBeLessThanOrEqual(6);
    expect(inFlightMax).toBeGreaterThan(3);
    await runtime.stopAll();
  });

  it('answers a repeated idempotency key with the same instance, and a changed input as a conflict', async () => {
    const log = new MemoryLog();
    const runtime = new SagaRuntime(
      log as unknown as SagaLog,
      leadership(),
      scripted(log, () => ({ ok: false, reason: 'no' })),
      [bookTripSaga()],
    );
    const first = await runtime.start('book-trip', 'saga', input, 'k-5');
    const again = await runtime.start(
      'book-trip',
      'saga',
      { nights: 1, travellerId: 'c-1', tripId: 't-1' },
      'k-5',
    );
    const changed = await runtime.start('book-trip', 'saga', { ...input, travellerId: 'c-2' }, 'k-5');
    expect(again).toMatchObject({ kind: 'existing', instance: { id: first.instance.id } });
    expect(changed.kind).toBe('conflict');
    await runtime.stopAll();
  });
});

async function waitCompleted(log: MemoryLog): Promise<InstanceRecord> {
  for (let i = 0; i < 400; i += 1) {
    const done = [...log.instances.values()].find((r) => r.status === 'completed');
    if (done !== undefined) return done;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error('not completed');
}
