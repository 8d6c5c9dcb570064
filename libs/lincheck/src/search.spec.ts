import { describe, expect, it } from 'vitest';
import {
  registerModel,
  registerModelFor,
  searchLinearization,
  type HistoryOperation,
} from '@concord/lincheck';
import { settleObservedWrites, staleObservation } from './infer.js';

// The search against a brute-force reference on thousands of small random histories: every order of
// every subset, no memo, no list. Agreement on both verdicts is the evidence that the pruning (memo,
// unknown-outcome batches, subsumption) never cuts off the only linearization.

const model = registerModel(null);
const values = ['a', 'b', 'c'] as const;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Brute force: does some order of the operations respect real time and the model? */
function bruteForce(history: readonly HistoryOperation[]): boolean {
  const ops = history.filter((op) => model.matters(op));
  const chosen = new Array<boolean>(ops.length).fill(false);
  const search = (state: string | null): boolean => {
    const remainingKnown = ops.filter((op, i) => !chosen[i] && op.return !== null);
    if (remainingKnown.length === 0) return true;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as HistoryOperation;
      if (chosen[i]) continue;
      // op may go next only if no other remaining operation returned before op was called.
      if (remainingKnown.some((other) => other !== op && (other.return as number) < op.call)) continue;
      const next = model.step(state, op);
      if (next === undefined) continue;
      chosen[i] = true;
      const found = search(next);
      chosen[i] = false;
      if (found) return true;
    }
    return false;
  };
  return search(model.init);
}

/** A random history: usually recorded from a real atomic register, sometimes with one outcome corrupted. */
function randomHistory(
  random: () => number,
  unknownShare: number,
  appends = false,
  unique = false,
): HistoryOperation[] {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  // unique: every write a fresh value (the coordinator's clients), expected values among those
  // written, and no deletes, so that the register's one-shot states and stale-read cut-offs apply.
  const written: string[] = [];
  const value = (): string => {
    if (!unique) return pick(values);
    written.push(`u${written.length}`);
    return written[written.length - 1] as string;
  };
  const expected = (): string => (unique && written.length > 0 ? pick(written) : value());
  const count = 1 + Math.floor(random() * 8);
  const planned = Array.from({ length: count }, (_, client) => {
    const call = Math.floor(random() * 12);
    const ret = call + Math.floor(random() * 6);
    const point = call + random() * (ret - call);
    const kind = appends
      ? pick(['get', 'get', 'append', 'append', 'append', 'put', 'cas', 'delete'] as const)
      : pick(['get', 'get', 'put', 'put', 'cas', 'cas', unique ? 'put' : 'delete'] as const);
    const op = { client, op: kind, key: 'k', call, return: ret, ok: true } as HistoryOperation;
    if (kind === 'put' || kind === 'append') op.value = value();
    if (kind === 'cas') {
      op.value = value();
      op.expect = random() < 0.2 ? null : expected();
    }
    return { op, point, unknown: random() < unknownShare, takesEffect: random() < 0.5 };
  });
  let state: string | null = null;
  for (const { op, unknown, takesEffect } of [...planned].sort((a, b) => a.point - b.point)) {
    if (unknown && !takesEffect) continue;
    if (op.op === 'get') op.result = state;
    else if (op.op === 'put') state = op.value ?? null;
    else if (op.op === 'append') state = (state ?? '') + (op.value ?? '');
    else if (op.op === 'delete') state = null;
    else {
      op.ok = state === (op.expect ?? null);
      if (op.ok) state = op.value ?? null;
    }
  }
  const history = planned.map(({ op, unknown }) => (unknown ? { ...op, return: null } : op));
  if (random() < 0.4) {
    const victim = pick(history);
    if (victim.op === 'get') victim.result = random() < 0.3 ? null : expected();
    else if (victim.op === 'cas') victim.ok = !victim.ok;
    else victim.ok = random() < 0.5;
  }
  return history;
}

/** Checks that a claimed linearization really is one. */
function expectWitness(history: readonly HistoryOperation[], order: readonly HistoryOperation[]): void {
  let state: string | null = model.init;
  for (const op of order) {
    const next = model.step(state, op);
    expect(next, `illegal step ${JSON.stringify(op)}`).not.toBeUndefined();
    state = next ?? null;
  }
  expect(new Set(order).size).toBe(order.length);
  for (const op of history) {
    if (model.matters(op) && op.return !== null) expect(order).toContain(op);
  }
  order.forEach((later, j) => {
    for (const earlier of order.slice(0, j)) {
      expect(later.return === null || later.return >= earlier.call, 'real-time order').toBe(true);
    }
  });
}

describe('searchLinearization against brute force', () => {
  it.each([
    { unknownShare: 0.2, seed: 20260311, appends: false },
    { unknownShare: 0.5, seed: 77, appends: false },
    { unknownShare: 0.2, seed: 4242, appends: true },
    { unknownShare: 0.3, seed: 1207, appends: false, unique: true },
    { unknownShare: 0.5, seed: 3185, appends: false, unique: true },
  ])(
    'agrees on 3,000 random histories with $unknownShare unknown outcomes (appends: $appends, unique values: $unique), also after settling observed writes; witnesses are linearizations',
    ({ unknownShare, seed, appends, unique }) => {
      const random = prng(seed);
      const tally = { linearizable: 0, 'not-linearizable': 0, unknown: 0, stale: 0 };
      for (let i = 0; i < 3000; i++) {
        const history = randomHistory(random, unknownShare, appends, unique);
        const expected = bruteForce(history) ? 'linearizable' : 'not-linearizable';
        const found = searchLinearization(registerModelFor(history), history);
        tally[found.verdict]++;
        expect(found.verdict, JSON.stringify(history)).toBe(expected);
        if (found.verdict === 'linearizable') expectWitness(history, found.order);
        const settled = settleObservedWrites(history, null);
        const foundSettled = searchLinearization(registerModelFor(settled), settled);
        expect(foundSettled.verdict, `settled: ${JSON.stringify(history)}`).toBe(expected);
        if (foundSettled.verdict === 'linearizable') expectWitness(settled, foundSettled.order);
        // The search-free stale-read test may only ever say "not linearizable" rightly.
        if (staleObservation(settled, null) !== undefined) {
          tally.stale++;
          expect(expected, `stale: ${JSON.stringify(history)}`).toBe('not-linearizable');
        }
      }
      // Both verdicts are well represented, so agreement is not agreement on trivia.
      expect(tally.linearizable).toBeGreaterThan(750);
      expect(tally['not-linearizable']).toBeGreaterThan(200);
      if (unique === true) expect(tally.stale).toBeGreaterThan(20);
    },
  );
});
