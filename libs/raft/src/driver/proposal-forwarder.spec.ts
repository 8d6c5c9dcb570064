import { describe, expect, it } from 'vitest';
import type { ProposeResponse } from '../types.js';
import { ProposalForwarder } from './proposal-forwarder.js';

const data = (n: number): Uint8Array => new Uint8Array(n);
const answer = (over: Partial<ProposeResponse> & { context: number }): ProposeResponse => ({
  type: 'proposeResp',
  from: 'a',
  to: 'b',
  term: 3,
  index: 10,
  accepted: 0,
  ...over,
});

describe('ProposalForwarder', () => {
  it('batches everything queued in one turn into one message, and says when a drain is needed', () => {
    const f = new ProposalForwarder<string>('b');
    expect(f.enqueue(data(1), 'w1')).toBe('first');
    expect(f.enqueue(data(1), 'w2')).toBe('queued');
    const [m, ...rest] = f.drain('a', 3, 0);
    expect(rest).toEqual([]);
    expect(m).toMatchObject({ type: 'propose', from: 'b', to: 'a', term: 3, context: 1 });
    expect(m!.entries).toHaveLength(2);
    expect(f.enqueue(data(1), 'w3')).toBe('first');
  });

  it('splits a drain by entries and bytes per message', () => {
    const f = new ProposalForwarder<number>('b', {
      entriesPerMessageMax: 3,
      bytesPerMessageMax: 100,
      pendingMax: 100,
    });
    for (let i = 0; i < 7; i++) f.enqueue(data(10), i);
    expect(f.drain('a', 1, 0).map((m) => m.entries.length)).toEqual([3, 3, 1]);
    // One proposal larger than the byte limit still goes (alone): the limit bounds batching, not values.
    f.enqueue(data(60), 7);
    f.enqueue(data(60), 8);
    f.enqueue(data(500), 9);
    expect(f.drain('a', 1, 0).map((m) => m.entries.length)).toEqual([1, 1, 1]);
  });

  it('places accepted proposals at consecutive indexes and refuses the rest', () => {
    const f = new ProposalForwarder<string>('b');
    f.enqueue(data(1), 'w1');
    f.enqueue(data(1), 'w2');
    f.enqueue(data(1), 'w3');
    const [m] = f.drain('a', 3, 0);
    const out = f.answer(answer({ context: m!.context, index: 10, accepted: 2, refusal: 'overloaded' }));
    expect(out.placed).toEqual([
      { waiter: 'w1', index: 10, term: 3 },
      { waiter: 'w2', index: 11, term: 3 },
    ]);
    expect(out.refused).toEqual([{ waiter: 'w3', refusal: 'overloaded', leaderHint: null }]);
    expect(out.unknown).toEqual([]);
    expect(f.size()).toBe(0);
  });

  it('passes a not-leader refusal on with the hint', () => {
    const f = new ProposalForwarder<string>('b');
    f.enqueue(data(1), 'w1');
    const [m] = f.drain('a', 3, 0);
    const out = f.answer(answer({ context: m!.context, refusal: 'notLeader', leaderHint: 'c' }));
    expect(out.refused).toEqual([{ waiter: 'w1', refusal: 'notLeader', leaderHint: 'c' }]);
  });

  it('an answer to a later message makes earlier unanswered ones to the same leader unknown (FIFO link)', () => {
    const f = new ProposalForwarder<string>('b');
    f.enqueue(data(1), 'lost');
    const [first] = f.drain('a', 3, 0);
    f.enqueue(data(1), 'other-leader');
    f.drain('c', 3, 0);
    f.enqueue(data(1), 'ok');
    const [second] = f.drain('a', 3, 0);
    const out = f.answer(answer({ context: second!.context, accepted: 1 }));
    expect(out.unknown).toEqual(['lost']);
    expect(out.placed.map((p) => p.waiter)).toEqual(['ok']);
    // The first answer, arriving late, is ignored: its waiters were already told.
    expect(f.answer(answer({ context: first!.context, accepted: 1 }))).toEqual({
      placed: [],
      refused: [],
      unknown: [],
    });
    expect(f.size()).toBe(1);
  });

  it('ignores an answer from a node the message was not sent to', () => {
    const f = new ProposalForwarder<string>('b');
    f.enqueue(data(1), 'w');
    const [m] = f.drain('a', 3, 0);
    expect(f.answer(answer({ context: m!.context, from: 'c', accepted: 1 })).placed).toEqual([]);
    expect(f.size()).toBe(1);
  });

  it('abandons messages to a former leader, and old ones, as unknown', () => {
    const f = new ProposalForwarder<string>('b');
    f.enqueue(data(1), 'to-a');
    f.drain('a', 3, 0);
    f.enqueue(data(1), 'to-c-old');
    f.drain('c', 4, 1);
    f.enqueue(data(1), 'to-c-new');
    f.drain('c', 4, 50);
    expect(f.abandon('c', 10)).toEqual(['to-a', 'to-c-old']);
    expect(f.abandon(null, Number.POSITIVE_INFINITY)).toEqual(['to-c-new']);
    expect(f.size()).toBe(0);
  });

  it('refuses beyond its bound and hands back the queue', () => {
    const f = new ProposalForwarder<number>('b', {
      entriesPerMessageMax: 10,
      bytesPerMessageMax: 100,
      pendingMax: 2,
    });
    expect(f.enqueue(data(1), 1)).toBe('first');
    expect(f.enqueue(data(1), 2)).toBe('queued');
    expect(f.enqueue(data(1), 3)).toBe('full');
    expect(f.takeQueued().map((q) => q.waiter)).toEqual([1, 2]);
    expect(f.size()).toBe(0);
  });
});
