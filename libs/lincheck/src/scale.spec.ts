import { describe, expect, it } from 'vitest';
import { checkHistory, parseJepsenKv, parseJsonl } from '@concord/lincheck';
import { generateHistory, toJepsenKv, toJsonl } from './generate.js';

// The checker at the scale of real recordings: 50 clients, ~4,000 lines of Jepsen kv (the format of the
// shared kv fixtures), with slow clients whose operations overlap hundreds of others, one linearizable and
// one with a stale read planted near the end; and a coordinator-shaped put/get/cas history with unknown
// outcomes. Generated, so the verdict is known by construction; parsed back from text, as the command does.

describe('the checker at scale', () => {
  it.each([1, 2])('decides 50-client append histories of ~4,000 lines (seed %i)', (seed) => {
    for (const violation of [false, true]) {
      const generated = generateHistory({
        seed,
        workload: 'append',
        clients: 50,
        operations: 2_000,
        keys: 10,
        violation,
      });
      if (violation) expect(generated.violation).toBeDefined();
      const text = toJepsenKv(generated.operations, 50);
      expect(text.split('\n').length).toBeGreaterThan(4_000);
      const result = checkHistory(parseJepsenKv(text), { timeoutMs: 50_000 });
      expect(result.verdict).toBe(violation ? 'not-linearizable' : 'linearizable');
      if (violation) expect(result.failure?.key).toBe(generated.violation?.key);
    }
  });

  it('decides a coordinator-shaped history with a quarter of its writes of unknown outcome', () => {
    for (const violation of [false, true]) {
      const generated = generateHistory({
        seed: 3,
        workload: 'cas',
        clients: 8,
        operations: 6_000,
        keys: 3,
        unknownFraction: 0.5,
        violation,
      });
      const history = parseJsonl(toJsonl(generated.operations));
      expect(history.operations.filter((op) => op.return === null).length).toBeGreaterThan(1_000);
      const result = checkHistory(history, { timeoutMs: 50_000 });
      expect(result.verdict).toBe(violation ? 'not-linearizable' : 'linearizable');
    }
  });

  it('generates the same history from the same seed', () => {
    const options = { seed: 9, workload: 'cas', clients: 4, operations: 200, keys: 2 } as const;
    expect(toJsonl(generateHistory(options).operations)).toBe(toJsonl(generateHistory(options).operations));
  });
});
