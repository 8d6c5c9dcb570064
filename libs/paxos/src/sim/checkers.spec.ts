import { InvariantViolation } from '@concord/raft';
import { describe, expect, it } from 'vitest';
import { PaxosCheckers } from './checkers.js';

const v = (s: string): Uint8Array => new TextEncoder().encode(s);
const b = (round: number, node: string): { round: number; node: string } => ({ round, node });

/** Each checker is shown catching the violation it exists for. */
describe('Paxos invariant checkers', () => {
  it('two values chosen for one slot (in different ballots)', () => {
    const c = new PaxosCheckers(3);
    c.onDurableAccept('a', 1, b(1, 'a'), v('x'));
    c.onDurableAccept('b', 1, b(1, 'a'), v('x'));
    c.onDurableAccept('b', 1, b(2, 'c'), v('y'));
    expect(() => c.onDurableAccept('c', 1, b(2, 'c'), v('y'))).toThrow(/at most one value chosen/);
  });

  it('the same value chosen again in a later ballot is fine', () => {
    const c = new PaxosCheckers(3);
    c.onDurableAccept('a', 1, b(1, 'a'), v('x'));
    c.onDurableAccept('b', 1, b(1, 'a'), v('x'));
    c.onDurableAccept('b', 1, b(2, 'c'), v('x'));
    c.onDurableAccept('c', 1, b(2, 'c'), v('x'));
    expect(c.chosenCount()).toBe(1);
  });

  it('one ballot carrying two values in a slot', () => {
    const c = new PaxosCheckers(3);
    c.onDurableAccept('a', 1, b(1, 'a'), v('x'));
    expect(() => c.onDurableAccept('b', 1, b(1, 'a'), v('y'))).toThrow(InvariantViolation);
  });

  it('a learner learning a value that was not chosen, or a different one', () => {
    const c = new PaxosCheckers(3);
    expect(() => c.onLearn('a', 1, v('x'))).toThrow(/no majority durably accepted/);
    c.onDurableAccept('a', 1, b(1, 'a'), v('x'));
    c.onDurableAccept('b', 1, b(1, 'a'), v('x'));
    c.onLearn('a', 1, v('x'));
    expect(() => c.onLearn('b', 1, v('y'))).toThrow(/chosen value never changes/);
  });

  it('a promise that goes backwards (forgotten in a crash after it was sent)', () => {
    const c = new PaxosCheckers(3);
    c.onPromiseShown('a', b(3, 'b'));
    c.observePromise('a', b(3, 'b'));
    c.observePromise('a', b(4, 'c'));
    expect(() => c.observePromise('a', b(2, 'c'))).toThrow(/promises never go backwards/);
  });
});
