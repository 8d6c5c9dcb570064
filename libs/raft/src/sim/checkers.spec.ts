import { describe, expect, it } from 'vitest';
import type { Entry } from '../types.js';
import { Checkers, InvariantViolation, type NodeView } from './checkers.js';

const e = (index: number, term: number, text: string): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(text),
});

function view(id: string, role: string, term: number, log: Entry[] = [], commit = 0): NodeView {
  return {
    id,
    up: true,
    role: () => role,
    term: () => term,
    termAt: (i) => (i === 0 ? 0 : log.find((x) => x.index === i)?.term),
    snapshotIndex: () => 0,
    commitIndex: () => commit,
    durablyHolds: (i, t) => log.some((x) => x.index === i && x.term === t),
  };
}

/** The checkers must be able to fail: each is shown catching the violation it exists for. */
describe('invariant checkers', () => {
  it('election safety: two leaders in one term', () => {
    const c = new Checkers();
    c.observe([view('a', 'leader', 3)]);
    expect(() => c.observe([view('b', 'leader', 3)])).toThrow(InvariantViolation);
  });

  it('log matching: the same index and term with different payloads', () => {
    const c = new Checkers();
    c.onPersist('a', [e(1, 1, 'x')], () => 0);
    expect(() => c.onPersist('b', [e(1, 1, 'y')], () => 0)).toThrow(/log matching/);
  });

  it('log matching: the same index and term after different previous terms', () => {
    const c = new Checkers();
    c.onPersist('a', [e(2, 2, 'x')], () => 1);
    expect(() => c.onPersist('b', [e(2, 2, 'x')], () => 0)).toThrow(/log matching/);
  });

  it('state machine safety: two nodes apply different entries at one index', () => {
    const c = new Checkers();
    c.onApply('a', e(1, 1, 'x'));
    expect(() => c.onApply('b', e(1, 2, 'y'))).toThrow(/state machine safety/);
  });

  it('leader completeness: a new leader missing a committed entry', () => {
    const c = new Checkers();
    c.observe([view('a', 'follower', 1, [e(1, 1, 'x')], 1)]);
    expect(() => c.observe([view('b', 'leader', 2, [], 0)])).toThrow(/leader completeness/);
  });

  it('durability: a committed entry held by fewer than a quorum', () => {
    const c = new Checkers();
    c.observe([view('a', 'follower', 1, [e(1, 1, 'x')], 1)]);
    const voters = [
      view('a', 'follower', 1, [e(1, 1, 'x')]),
      view('b', 'follower', 1),
      view('c', 'follower', 1),
    ];
    expect(() => c.checkDurability([{ voters, quorum: 2 }], 10)).toThrow(/committed entry lost/);
  });
});
