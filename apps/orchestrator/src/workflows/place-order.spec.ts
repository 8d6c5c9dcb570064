import { describe, expect, it } from 'vitest';
import type { PlaceOrderInput, Reply } from '@concord/contracts';
import { placeOrderSaga, placeOrderTwoPhase, parsePlaceOrderInput } from './place-order.js';
import { type OutboundCommand, type Workflow, type WorkflowStateBase } from '@concord/saga';

const input: PlaceOrderInput = { orderId: 'o-1', customerId: 'c-1', items: [{ sku: 'apple', qty: 2 }] };
const reserved: Reply<unknown> = {
  ok: true,
  result: { lines: [{ sku: 'apple', qty: 2, priceCents: 150 }], totalCents: 300 },
};
const okNull: Reply<unknown> = { ok: true, result: null };

/** Runs a workflow against scripted answers (subject → reply), returning the subjects in the order sent. */
function drive<St extends WorkflowStateBase>(
  workflow: Workflow<PlaceOrderInput, St>,
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

describe('place-order saga', () => {
  const saga = placeOrderSaga();

  it('starts by reserving the stock of the order', () => {
    const [first, ...rest] = saga.outstanding(saga.start(input, 'tx-1'));
    expect(rest).toEqual([]);
    expect(first).toMatchObject({
      key: 'reserve-stock',
      subject: 'inventory.reserve',
      payload: { orderId: 'o-1', items: input.items },
    });
  });

  it('holds the total that the reservation priced, then commits, captures and confirms', () => {
    const { sent, state } = drive(saga, (c) => (c.subject === 'inventory.reserve' ? reserved : okNull));
    expect(sent).toEqual([
      'inventory.reserve',
      'payments.hold',
      'inventory.commit',
      'payments.capture',
      'orders.settle',
    ]);
    expect(state.status).toBe('completed');
    const afterReserve = saga.onReply(saga.start(input, 'tx-1'), 'reserve-stock', reserved);
    expect(saga.outstanding(afterReserve)[0]?.payload).toEqual({
      orderId: 'o-1',
      customerId: 'c-1',
      amountCents: 300,
    });
  });

  it('past the pivot, asks for commit and capture at once, and confirms only once both answered', () => {
    let state = saga.onReply(saga.start(input, 'tx-1'), 'reserve-stock', reserved);
    state = saga.onReply(state, 'hold-funds', okNull);
    expect(saga.outstanding(state).map((c) => c.key)).toEqual(['commit-stock', 'capture-funds']);
    state = saga.onReply(state, 'capture-funds', okNull);
    expect(saga.outstanding(state).map((c) => c.key)).toEqual(['commit-stock']);
    state = saga.onReply(state, 'capture-funds', okNull); // a repeat changes nothing
    state = saga.onReply(state, 'confirm-order', okNull); // not outstanding yet: ignored
    expect(state.status).toBe('running');
    state = saga.onReply(state, 'commit-stock', okNull);
    // CONFIRMED means sold and paid: the order is settled only now.
    expect(saga.outstanding(state).map((c) => c.key)).toEqual(['confirm-order']);
    state = saga.onReply(state, 'confirm-order', okNull);
    expect(state.status).toBe('completed');
    expect(saga.outstanding(state)).toEqual([]);
  });

  it('given insufficient funds, releases the stock and cancels the order with the reason', () => {
    const settled: unknown[] = [];
    const { sent, state } = drive(saga, (c) => {
      if (c.subject === 'inventory.reserve') return reserved;
      if (c.subject === 'payments.hold') return { ok: false, reason: 'insufficient funds' };
      if (c.subject === 'orders.settle') settled.push(c.payload);
      return okNull;
    });
    expect(sent).toEqual(['inventory.reserve', 'payments.hold', 'inventory.release', 'orders.settle']);
    expect(settled).toEqual([{ orderId: 'o-1', status: 'CANCELLED', reason: 'insufficient funds' }]);
    expect(state.status).toBe('compensated');
  });

  it('given out of stock, compensates nothing and cancels', () => {
    const { sent, state } = drive(saga, (c) =>
      c.subject === 'inventory.reserve' ? { ok: false, reason: 'out of stock' } : okNull,
    );
    expect(sent).toEqual(['inventory.reserve', 'orders.settle']);
    expect(state).toMatchObject({ status: 'compensated', reason: 'out of stock' });
  });

  it('given a hold past its deadline, compensates it too, in reverse order: funds first, then stock', () => {
    const { sent, state } = drive(saga, (c) => {
      if (c.subject === 'inventory.reserve') return reserved;
      if (c.subject === 'payments.hold') return 'no answer';
      return okNull;
    });
    expect(sent).toEqual([
      'inventory.reserve',
      'payments.hold',
      'payments.release',
      'inventory.release',
      'orders.settle',
    ]);
    expect(state.status).toBe('compensated');
    expect(state.reason).toMatch(/hold-funds: no answer/);
  });

  it('ignores a late answer to a command that is no longer outstanding', () => {
    const started = saga.start(input, 'tx-1');
    const afterReserve = saga.onReply(started, 'reserve-stock', reserved);
    expect(saga.onReply(afterReserve, 'reserve-stock', { ok: false, reason: 'late duplicate' })).toBe(
      afterReserve,
    );
  });

  it('never compensates after the pivot: a refused capture fails the saga for an operator', () => {
    const { sent, state } = drive(saga, (c) => {
      if (c.subject === 'inventory.reserve') return reserved;
      if (c.subject === 'payments.capture') return { ok: false, reason: 'account closed' };
      return okNull;
    });
    expect(sent).not.toContain('inventory.release');
    expect(state.status).toBe('failed');
  });

  it('rejects malformed input with a message naming the field', () => {
    expect(() => parsePlaceOrderInput({ ...input, items: [] })).toThrow(/items/);
    expect(() => parsePlaceOrderInput({ ...input, items: [{ sku: 'a', qty: 0 }] })).toThrow(/items\.0\.qty/);
    expect(() => parsePlaceOrderInput({ ...input, orderId: "x'; drop" })).toThrow(/orderId/);
    expect(parsePlaceOrderInput(input)).toEqual(input);
  });
});

describe('place-order two-phase commit', () => {
  const twoPhase = placeOrderTwoPhase();

  it('prepares inventory, then payments with the prepared total; commits both; then confirms', () => {
    const payloads: Record<string, unknown> = {};
    const { sent, state } = drive(twoPhase, (c) => {
      payloads[c.key] = c.payload;
      if (c.subject === 'inventory.2pc.prepare')
        return {
          ok: true,
          result: { gid: 'inventory:tx-1', result: (reserved as { result: unknown }).result },
        };
      if (c.subject === 'payments.2pc.prepare')
        return { ok: true, result: { gid: 'payments:tx-1', result: null } };
      return okNull;
    });
    expect(sent).toEqual([
      'inventory.2pc.prepare',
      'payments.2pc.prepare',
      'inventory.2pc.commit',
      'payments.2pc.commit',
      'orders.settle',
    ]);
    expect(payloads['prepare:payments']).toEqual({
      gid: 'payments:tx-1',
      operation: { orderId: 'o-1', customerId: 'c-1', amountCents: 300 },
    });
    expect(state).toMatchObject({ status: 'committed', decision: 'commit' });
  });

  it('decides commit in the same transition that ends phase one (the runtime persists it before phase two)', () => {
    let state = twoPhase.start(input, 'tx-1');
    state = twoPhase.onReply(state, 'prepare:inventory', {
      ok: true,
      result: { gid: 'inventory:tx-1', result: (reserved as { result: unknown }).result },
    });
    expect(state.decision).toBeUndefined();
    state = twoPhase.onReply(state, 'prepare:payments', {
      ok: true,
      result: { gid: 'payments:tx-1', result: null },
    });
    expect(state).toMatchObject({ decision: 'commit', status: 'committing' });
    expect(twoPhase.outstanding(state).map((c) => c.key)).toEqual(['decide:inventory', 'decide:payments']);
  });

  it('given a refused prepare, aborts every participant asked so far, then cancels', () => {
    const { sent, state } = drive(twoPhase, (c) => {
      if (c.subject === 'inventory.2pc.prepare')
        return {
          ok: true,
          result: { gid: 'inventory:tx-1', result: (reserved as { result: unknown }).result },
        };
      if (c.subject === 'payments.2pc.prepare') return { ok: false, reason: 'insufficient funds' };
      return okNull;
    });
    expect(sent).toEqual([
      'inventory.2pc.prepare',
      'payments.2pc.prepare',
      'inventory.2pc.abort',
      'payments.2pc.abort',
      'orders.settle',
    ]);
    expect(state).toMatchObject({ status: 'aborted', decision: 'abort', reason: 'insufficient funds' });
  });

  it('presumed abort: a decision query before phase one ends decides abort, and the decision never changes', () => {
    const started = twoPhase.start(input, 'tx-1');
    const queried = twoPhase.onDecisionQuery(started);
    expect(queried).toMatchObject({ decision: 'abort', status: 'aborting' });
    // The late prepare answer cannot turn it into a commit.
    const late = twoPhase.onReply(queried, 'prepare:inventory', {
      ok: true,
      result: { gid: 'inventory:tx-1', result: null },
    });
    expect(late.decision).toBe('abort');
    expect(twoPhase.outstanding(late).map((c) => c.subject)).toEqual(['inventory.2pc.abort']);
  });

  it('repeats phase two until every participant answered', () => {
    let state = twoPhase.start(input, 'tx-1');
    state = twoPhase.onReply(state, 'prepare:inventory', {
      ok: true,
      result: { gid: 'inventory:tx-1', result: (reserved as { result: unknown }).result },
    });
    state = twoPhase.onReply(state, 'prepare:payments', {
      ok: true,
      result: { gid: 'payments:tx-1', result: null },
    });
    state = twoPhase.onReply(state, 'decide:payments', okNull);
    expect(twoPhase.outstanding(state).map((c) => c.key)).toEqual(['decide:inventory']);
    expect(twoPhase.outstanding(state)[0]?.retry.deadlineMs).toBe(Number.POSITIVE_INFINITY);
  });
});
