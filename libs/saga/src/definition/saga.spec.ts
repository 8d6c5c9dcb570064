import { describe, expect, it } from 'vitest';
import type { Reply } from '@concord/contracts';
import { bookTripSaga, bookTripTwoPhase, type BookTripInput } from '../testing/book-trip.js';
import { RETRY_FOREVER } from './retry.js';
import { command, sagaWorkflow } from './saga.js';
import type { OutboundCommand, Workflow, WorkflowStateBase } from './workflow.js';

/**
 * The deciders with no broker: given a state and an answer, expect the next commands. The example is the
 * engine's own (a trip booking); apps/orchestrator tests its real workflows the same way.
 */
const input: BookTripInput = { tripId: 't-1', travellerId: 'v-1', nights: 2 };
const okNull: Reply<unknown> = { ok: true, result: null };

function drive<St extends WorkflowStateBase>(
  workflow: Workflow<BookTripInput, St>,
  answer: (command: OutboundCommand) => Reply<unknown> | 'no answer',
): { sent: string[]; state: St } {
  let state = workflow.start(input, 'tx-1');
  const sent: string[] = [];
  for (let guard = 0; guard < 50; guard += 1) {
    const commands = workflow.outstanding(state);
    if (commands.length === 0) return { sent, state };
    for (const c of commands) {
      sent.push(c.subject);
      const reply = answer(c);
      state = reply === 'no answer' ? workflow.onGiveUp(state, c.key) : workflow.onReply(state, c.key, reply);
    }
  }
  throw new Error('workflow did not finish in 50 rounds');
}

describe('saga decider', () => {
  const saga = bookTripSaga();

  it('runs the steps, sends the retriable ones together and the last after those it waits for', () => {
    const { sent, state } = drive(saga, (c) =>
      c.subject === 'rooms.book' ? { ok: true, result: { priceCents: 300 } } : okNull,
    );
    expect(sent).toEqual(['rooms.book', 'cards.hold', 'rooms.confirm', 'cards.charge', 'trips.settle']);
    expect(state.status).toBe('completed');
    expect(state.data.priceCents).toBe(300);
  });

  it('compensates what was done, in reverse, then runs the after-compensation command', () => {
    const { sent, state } = drive(saga, (c) => {
      if (c.subject === 'rooms.book') return { ok: true, result: { priceCents: 300 } };
      if (c.subject === 'cards.hold') return { ok: false, reason: 'card declined' };
      return okNull;
    });
    expect(sent).toEqual(['rooms.book', 'cards.hold', 'rooms.cancel', 'trips.settle']);
    expect(state).toMatchObject({ status: 'compensated', reason: 'card declined' });
  });

  it('compensates a step given up at its deadline too (it may have run unheard)', () => {
    const { sent, state } = drive(saga, (c) =>
      c.subject === 'rooms.book'
        ? { ok: true, result: { priceCents: 1 } }
        : c.subject === 'cards.hold'
          ? 'no answer'
          : okNull,
    );
    expect(sent).toEqual(['rooms.book', 'cards.hold', 'cards.release', 'rooms.cancel', 'trips.settle']);
    expect(state.reason).toBe('hold-card: no answer before the deadline');
  });

  it('refuses a definition where two steps send one subject (participants fence by subject)', () => {
    const step = (name: string) => ({
      name,
      kind: 'compensatable' as const,
      action: command<null>('a.do', name, () => ({})),
      compensation: command<null>('a.undo', `undo-${name}`, () => ({})),
      retry: RETRY_FOREVER,
      timeoutMs: 1,
    });
    expect(() =>
      sagaWorkflow({
        type: 'twice',
        parseInput: () => null,
        initialData: () => null,
        steps: [step('first'), step('second')],
        afterCompensation: [],
        compensationTimeoutMs: 1,
      }),
    ).toThrow(/same subject/);
  });
});

describe('two-phase decider', () => {
  const twoPhase = bookTripTwoPhase();

  it('prepares each participant in turn, decides commit, then settles', () => {
    const { sent, state } = drive(twoPhase, (c) =>
      c.subject.endsWith('.prepare') ? { ok: true, result: { gid: 'g', result: { priceCents: 5 } } } : okNull,
    );
    expect(sent).toEqual([
      'rooms.2pc.prepare',
      'cards.2pc.prepare',
      'rooms.2pc.commit',
      'cards.2pc.commit',
      'trips.settle',
    ]);
    expect(state).toMatchObject({ status: 'committed', decision: 'commit' });
  });

  it('aborts every participant whose prepare may have been sent when one refuses', () => {
    const { sent, state } = drive(twoPhase, (c) =>
      c.subject === 'cards.2pc.prepare'
        ? { ok: false, reason: 'declined' }
        : c.subject.endsWith('.prepare')
          ? { ok: true, result: { gid: 'g', result: { priceCents: 5 } } }
          : okNull,
    );
    expect(sent).toEqual([
      'rooms.2pc.prepare',
      'cards.2pc.prepare',
      'rooms.2pc.abort',
      'cards.2pc.abort',
      'trips.settle',
    ]);
    expect(state).toMatchObject({ status: 'aborted', decision: 'abort', reason: 'declined' });
  });
});
