import { describe, expect, it } from 'vitest';
import { runSingleDecree } from './single-decree-run.js';

describe('a single-decree run as a timeline', () => {
  it('goes prepare, promise, accept, accepted, chosen with one proposer and a reliable network', () => {
    const run = runSingleDecree({ seed: 1 });
    expect(run.chosen).toMatchObject({ value: 'value-of-p1', ballot: '1.p1' });
    const kinds = [...new Set(run.events.map((e) => e.kind))];
    expect(kinds).toEqual(['prepare', 'promise', 'accept', 'accepted', 'chosen']);
    expect(run.events.filter((e) => e.kind === 'prepare')).toHaveLength(3);
    expect(run.events.every((e, i) => i === 0 || e.atMs >= (run.events[i - 1]?.atMs ?? 0))).toBe(true);
  });

  it('is decided by the seed alone', () => {
    expect(runSingleDecree({ seed: 42, proposers: 2, dropPercent: 20 })).toEqual(
      runSingleDecree({ seed: 42, proposers: 2, dropPercent: 20 }),
    );
  });

  it('chooses one value in every seeded duel with losses (or none), never two', () => {
    let decided = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const run = runSingleDecree({ seed, proposers: 3, acceptors: 5, dropPercent: 25 });
      if (run.chosen === null) continue;
      decided++;
      const chosenValues = new Set(run.events.filter((e) => e.kind === 'chosen').map((e) => e.value));
      expect(chosenValues.size, `seed ${seed}`).toBe(1);
    }
    expect(decided).toBeGreaterThan(250);
  });

  it('shows dueling proposers: nacks and higher ballots', () => {
    const runs = Array.from({ length: 50 }, (_, i) => runSingleDecree({ seed: i + 1, proposers: 2 }));
    expect(runs.some((r) => r.events.some((e) => e.kind === 'nack'))).toBe(true);
    // With losses, a proposer whose ballot stalls times out and outbids with a higher round.
    const lossy = Array.from({ length: 50 }, (_, i) =>
      runSingleDecree({ seed: i + 1, proposers: 2, dropPercent: 30 }),
    );
    expect(lossy.some((r) => r.ballots > 2 && r.events.some((e) => e.kind === 'timeout'))).toBe(true);
  });

  it('bounds its inputs and its length', () => {
    const run = runSingleDecree({ seed: 7, acceptors: 99, proposers: 9, dropPercent: 90, eventsMax: 50 });
    expect(run.acceptors).toHaveLength(7);
    expect(run.proposers).toHaveLength(3);
    expect(run.dropPercent).toBe(50);
    expect(run.events.length).toBeLessThanOrEqual(50);
  });
});
