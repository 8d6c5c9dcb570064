import { describe, expect, it } from 'vitest';
import { checkKv, InvalidOperationError, type KvOperation } from '@concord/lincheck';

// Small histories written by hand. Times are abstract ticks; `at(call, ret)` is the operation's interval.
type Fields = Omit<KvOperation, 'call' | 'return' | 'client' | 'ok'> & { ok?: boolean };
let nextClient = 0;
function op(fields: Fields, call: number, ret: number | null): KvOperation {
  return { client: nextClient++, ok: true, ...fields, call, return: ret };
}
const put = (value: string, call: number, ret: number | null, key = 'k'): KvOperation =>
  op({ op: 'put', key, value }, call, ret);
const get = (result: string | null, call: number, ret: number | null, key = 'k'): KvOperation =>
  op({ op: 'get', key, result }, call, ret);
const cas = (
  expect: string | null,
  value: string,
  ok: boolean,
  call: number,
  ret: number | null,
): KvOperation => op({ op: 'cas', key: 'k', expect, value, ok }, call, ret);
const del = (call: number, ret: number | null): KvOperation => op({ op: 'delete', key: 'k' }, call, ret);

const verdict = (history: KvOperation[]): string => checkKv(history).verdict;

describe('checkKv: completed operations', () => {
  it('accepts an empty history', () => {
    expect(checkKv([])).toMatchObject({ linearizable: true, verdict: 'linearizable', keys: 0 });
  });

  it('reads absent keys as null', () => {
    expect(verdict([get(null, 0, 1)])).toBe('linearizable');
    expect(verdict([get('a', 0, 1)])).toBe('not-linearizable');
  });

  it('rejects a stale read after a completed write', () => {
    expect(verdict([put('a', 0, 1), put('b', 2, 3), get('b', 4, 5)])).toBe('linearizable');
    expect(verdict([put('a', 0, 1), put('b', 2, 3), get('a', 4, 5)])).toBe('not-linearizable');
  });

  it('lets a read concurrent with a write see either value, but not go back in time', () => {
    expect(verdict([put('a', 0, 1), put('b', 2, 6), get('a', 3, 4)])).toBe('linearizable');
    expect(verdict([put('a', 0, 1), put('b', 2, 6), get('b', 3, 4)])).toBe('linearizable');
    // Once one read saw b, a later read cannot see a again.
    expect(verdict([put('a', 0, 1), put('b', 2, 9), get('b', 3, 4), get('a', 5, 6)])).toBe(
      'not-linearizable',
    );
  });

  it('treats touching intervals as concurrent', () => {
    expect(verdict([put('a', 0, 2), get(null, 2, 3)])).toBe('linearizable');
    expect(verdict([put('a', 0, 1), get(null, 2, 3)])).toBe('not-linearizable');
  });

  it('applies delete', () => {
    expect(verdict([put('a', 0, 1), del(2, 3), get(null, 4, 5)])).toBe('linearizable');
    expect(verdict([put('a', 0, 1), del(2, 3), get('a', 4, 5)])).toBe('not-linearizable');
  });

  it('ignores writes that certainly failed', () => {
    const failed = { ...put('x', 0, 1), ok: false };
    expect(verdict([failed, get(null, 2, 3)])).toBe('linearizable');
    expect(verdict([failed, get('x', 2, 3)])).toBe('not-linearizable');
  });
});

describe('checkKv: compare-and-set', () => {
  it('swaps only from the expected value', () => {
    expect(verdict([put('a', 0, 1), cas('a', 'b', true, 2, 3), get('b', 4, 5)])).toBe('linearizable');
    expect(verdict([put('a', 0, 1), cas('z', 'b', true, 2, 3)])).toBe('not-linearizable');
  });

  it('reads expect: null as only-if-absent', () => {
    expect(verdict([cas(null, 'a', true, 0, 1), get('a', 2, 3)])).toBe('linearizable');
    expect(verdict([put('a', 0, 1), cas(null, 'b', true, 2, 3)])).toBe('not-linearizable');
  });

  it('takes a failed cas as having seen another value', () => {
    expect(verdict([put('a', 0, 1), cas('z', 'b', false, 2, 3), get('a', 4, 5)])).toBe('linearizable');
    // The register certainly held a: a cas from a cannot fail, and did not swap.
    expect(verdict([put('a', 0, 1), cas('a', 'b', false, 2, 3)])).toBe('not-linearizable');
    expect(verdict([put('a', 0, 1), cas('z', 'b', false, 2, 3), get('b', 4, 5)])).toBe('not-linearizable');
  });

  it('lets a failed cas pass when a concurrent write explains it', () => {
    expect(verdict([put('a', 0, 1), put('c', 2, 5), cas('a', 'b', false, 3, 4)])).toBe('linearizable');
  });
});

describe('checkKv: operations of unknown outcome', () => {
  it('lets an unknown write take effect late', () => {
    expect(verdict([put('a', 0, null), get(null, 1, 2), get('a', 10, 11)])).toBe('linearizable');
  });

  it('explores many concurrent unknown writes in linear, not exponential, work', () => {
    const writes = Array.from({ length: 40 }, (_, i) => put(`v${i}`, 0, null));
    const result = checkKv([...writes, get('none', 1, 2)]);
    expect(result.verdict).toBe('not-linearizable');
    expect(result.steps).toBeLessThan(10_000);
    expect(checkKv([...writes, get('v7', 1, 2), get('v3', 3, 4), get('v7', 5, 6)]).verdict).toBe(
      'not-linearizable',
    );
    expect(checkKv([...writes, get('v7', 1, 2), get('v3', 3, 4), get('v9', 5, 6)]).verdict).toBe(
      'linearizable',
    );
  });

  it('lets an unknown write never take effect', () => {
    expect(verdict([put('a', 0, null), get(null, 10, 11)])).toBe('linearizable');
  });

  it('does not let an unknown write take effect before its call', () => {
    expect(verdict([get('a', 0, 1), put('a', 2, null)])).toBe('not-linearizable');
  });

  it('does not let an unknown write take effect twice', () => {
    const history = [
      put('a', 0, 1),
      put('u', 2, null),
      put('b', 3, 4),
      get('u', 5, 6),
      get('b', 7, 8),
      get('u', 9, 10),
    ];
    expect(verdict(history)).toBe('not-linearizable');
    expect(verdict(history.slice(0, 5))).toBe('not-linearizable');
    expect(verdict(history.slice(0, 4))).toBe('linearizable');
  });

  it('keeps an unknown outcome available on the path that has not used it', () => {
    // The search first reaches "put q and cas placed, state q" by spending the delete (put q, delete,
    // cas); the order that works, cas then put, gets there without it and needs it for the last read.
    const history = [put('q', 0, 10), cas(null, 'q', true, 0, 10), del(0, null), get(null, 20, 21)];
    expect(verdict(history)).toBe('linearizable');
    expect(verdict([...history, get('q', 22, 23)])).toBe('not-linearizable');
  });

  it('ignores a read of unknown outcome', () => {
    expect(verdict([put('a', 0, 1), get('zzz', 2, null)])).toBe('linearizable');
  });

  it('applies an unknown cas only where it could swap', () => {
    expect(verdict([put('a', 0, 1), cas('a', 'b', false, 2, null), get('b', 5, 6)])).toBe('linearizable');
    expect(verdict([put('a', 0, 1), cas('x', 'b', false, 2, null), get('b', 5, 6)])).toBe('not-linearizable');
  });
});

describe('checkKv: keys, reports and limits', () => {
  it('checks each key on its own', () => {
    const history = [put('a', 0, 1, 'x'), put('b', 0, 1, 'y'), get('a', 2, 3, 'x'), get('b', 2, 3, 'y')];
    expect(checkKv(history)).toMatchObject({ linearizable: true, keys: 2, operations: 4 });
  });

  it('names the key that fails and the operation it cannot place', () => {
    const stale = get('a', 4, 5, 'y');
    const result = checkKv([
      put('a', 0, 1, 'x'),
      put('a', 0, 1, 'y'),
      put('b', 2, 3, 'y'),
      stale,
      get('a', 6, 7, 'x'),
    ]);
    expect(result.linearizable).toBe(false);
    expect(result.failure?.key).toBe('y');
    // 'b' was written after 'a' and before the read: stale without a search, so no prefix.
    expect(result.failure?.longestPrefix).toHaveLength(0);
    expect(result.failure?.stuck).toEqual([stale]);
  });

  it('starts keys at initialValue when one is given', () => {
    expect(checkKv([get('', 0, 1)], { initialValue: '' }).linearizable).toBe(true);
    expect(checkKv([get('', 0, 1)]).linearizable).toBe(false);
  });

  it('answers unknown, not a violation, when the time runs out', () => {
    // 12 concurrent writes of distinct values: 12 * 2^12 configurations to explore before failing.
    const history = [...Array.from({ length: 12 }, (_, i) => put(`v${i}`, 0, 1)), get('none', 2, 3)];
    let clockMs = 0;
    const result = checkKv(history, { timeoutMs: 5, now: () => (clockMs += 1) });
    expect(result).toMatchObject({ linearizable: false, verdict: 'unknown' });
    expect(result.failure?.verdict).toBe('unknown');
    expect(checkKv(history).verdict).toBe('not-linearizable');
  });

  it('rejects operations it cannot interpret', () => {
    expect(() => checkKv([put('a', 5, 4)])).toThrow(InvalidOperationError);
    expect(() => checkKv([op({ op: 'cas', key: 'k', value: 'a' }, 0, 1)])).toThrow(/expect/);
    expect(() => checkKv([op({ op: 'get', key: 'k' }, 0, 1)])).toThrow(/result/);
  });
});

// The reductions that let the checker decide a coordinator's histories (docs/lincheck.md, "At scale"),
// each with the case that would break it if it were done naively.
describe('checkKv: reductions for histories with many unknown outcomes', () => {
  it('drops a read of unknown outcome: it changed nothing, whatever it would have read', () => {
    expect(verdict([put('a', 0, 1), get('never written', 2, null), get('a', 3, 4)])).toBe('linearizable');
  });

  it('keeps an unobserved write of unknown outcome: a failed compare-and-set may need it to have landed', () => {
    // Nobody reads 'x', but the cas expecting 'a' failed after 'a' was written: only the unknown put
    // of 'x' in between explains that. Treating unobserved unknown writes as never applied would call
    // this history a violation.
    const history = [put('a', 0, 1), put('x', 2, null), cas('a', 'b', false, 3, 4)];
    expect(verdict(history)).toBe('linearizable');
    expect(verdict([put('a', 0, 1), cas('a', 'b', false, 3, 4)])).toBe('not-linearizable');
  });

  it('counts unobserved writes of unknown outcome: each takes effect at most once', () => {
    // Two failed compare-and-sets, each needing the value moved off a value written once: two
    // unobserved unknown writes (one class, counted) are needed, one is not enough.
    const needsTwo = (unknownWrites: KvOperation[]) => [
      put('a', 0, 1),
      ...unknownWrites,
      cas('a', 'c', false, 3, 4),
      put('b', 5, 6),
      cas('b', 'c', false, 7, 8),
    ];
    expect(verdict(needsTwo([put('x1', 2, null)]))).toBe('not-linearizable');
    expect(verdict(needsTwo([put('x1', 2, null), put('x2', 2, null)]))).toBe('linearizable');
    expect(verdict(needsTwo([put('x1', 2, null), put('x2', 6.5, null)]))).toBe('linearizable');
    // Called only after the second cas returned: too late for it.
    expect(verdict(needsTwo([put('x1', 2, null), put('x2', 9, null)]))).toBe('not-linearizable');
  });

  it('lets at most one compare-and-set of unknown outcome leave a value written once', () => {
    // Both expect 'a'; once one swapped, 'a' never comes back, so the other cannot swap after it.
    const base = [put('a', 0, 1), cas('a', 'b1', true, 2, null), cas('a', 'b2', true, 2, null)];
    expect(verdict([...base, get('b1', 3, 4)])).toBe('linearizable');
    expect(verdict([...base, get('b2', 3, 4)])).toBe('linearizable');
    expect(verdict([...base, get('b1', 3, 4), get('b2', 5, 6)])).toBe('not-linearizable');
    // Written twice, 'a' may come back: then both can swap, one after the other.
    expect(verdict([...base, get('b1', 3, 4), put('a', 5, 6), get('b2', 7, 8)])).toBe('linearizable');
  });

  it('cuts off an order that leaves a value written once while a read of it is unplaced', () => {
    // A stale read of 'a' after 14 concurrent writes of distinct values: without the cut-off the
    // search tries every set of them first (2^14 configurations), with it a few steps.
    const writes = Array.from({ length: 14 }, (_, i) => put(`w${i}`, 2, 3));
    const result = checkKv([put('a', 0, 1), ...writes, get('a', 4, 5)]);
    expect(result.verdict).toBe('not-linearizable');
    expect(result.steps).toBeLessThan(100);
    expect(result.failure?.stuck.map((op) => op.op)).toEqual(['get']);
    // The same read before the writes returned is fine.
    expect(verdict([put('a', 0, 1), ...writes, get('a', 2.5, 5)])).toBe('linearizable');
  });

  it('finds a stale read in the middle of a long history without a search', () => {
    // 'a' written once, then 'b' written after that returned and before the read was called: the read
    // of 'a' is stale whatever comes before or after, found without exploring the 2,000 operations.
    const before = Array.from({ length: 1_000 }, (_, i) => put(`p${i}`, 10 + i, 10.5 + i));
    const after = Array.from({ length: 1_000 }, (_, i) => put(`q${i}`, 2_000 + i, 2_000.5 + i));
    const stale = get('a', 1_500, 1_501);
    const result = checkKv([...before, put('a', 1_100, 1_101), put('b', 1_200, 1_201), stale, ...after]);
    expect(result.verdict).toBe('not-linearizable');
    expect(result.steps).toBe(0);
    expect(result.failure?.stuck).toEqual([stale]);
    // With 'b' concurrent with the write of 'a' (it may go first) the read is not stale.
    const concurrent = [...before, put('a', 1_100, 1_201), put('b', 1_150, 1_201), get('a', 1_500, 1_501)];
    expect(verdict(concurrent)).toBe('linearizable');
    // Nor when 'a' is written twice.
    expect(verdict([put('a', 0, 1), put('b', 2, 3), put('a', 2, 3), get('a', 4, 5)])).toBe('linearizable');
  });

  it('does not cut off a value written twice: it may come back', () => {
    expect(verdict([put('a', 0, 1), put('b', 2, 3), put('a', 4, 5), get('a', 6, 7), get('b', 2, 7)])).toBe(
      'linearizable',
    );
  });
});
