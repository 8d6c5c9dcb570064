import { describe, expect, it } from 'vitest';
import { snapshotDue } from './raft-driver.js';

/** The applied indexes (1..upTo) at which a node of `voters` snapshots, as the driver would take them. */
function snapshotIndexes(id: string, voters: string[], every: number, upTo: number): number[] {
  const taken: number[] = [];
  let snapshotIndex = 0;
  for (let applied = 1; applied <= upTo; applied++) {
    if (snapshotDue({ id, snapshotIndex, conf: { voters } }, applied, every)) {
      taken.push(applied);
      snapshotIndex = applied;
    }
  }
  return taken;
}

describe('snapshotDue: voters take turns', () => {
  const voters = ['n3', 'n1', 'n2'];

  it('gives voter k of n the marks k/n of an interval past each multiple, once per interval', () => {
    expect(snapshotIndexes('n1', voters, 300, 1_000)).toEqual([300, 600, 900]);
    expect(snapshotIndexes('n2', voters, 300, 1_000)).toEqual([200, 500, 800]);
    // n3's first mark (100) comes before half an interval: it waits until 150.
    expect(snapshotIndexes('n3', voters, 300, 1_000)).toEqual([150, 400, 700, 1_000]);
  });

  it('waits at least half an interval and at most one between two snapshots', () => {
    for (const id of voters) {
      const taken = snapshotIndexes(id, voters, 300, 10_000);
      const gaps = taken.slice(1).map((index, i) => index - taken[i]!);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(150);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(300);
      expect(taken[0]).toBeLessThanOrEqual(300);
    }
  });

  it('never has two voters snapshot at the same index', () => {
    const all = voters.flatMap((id) => snapshotIndexes(id, voters, 1_000, 20_000));
    expect(new Set(all).size).toBe(all.length);
  });

  it('after a snapshot installed at any index, snapshots within one interval, never before half of one', () => {
    expect(snapshotDue({ id: 'n2', snapshotIndex: 650, conf: { voters } }, 700, 300)).toBe(false);
    expect(snapshotDue({ id: 'n2', snapshotIndex: 650, conf: { voters } }, 950, 300)).toBe(true);
    // A learner (not a voter) uses the multiples themselves.
    expect(snapshotIndexes('n9', voters, 300, 700)).toEqual([300, 600]);
  });
});
