import { describe, expect, it } from 'vitest';
import { Xoshiro128 } from '../core/prng.js';
import type { Entry } from '../types.js';
import { MemoryDurableLog } from './memory-durable-log.js';

const entry = (index: number, term: number, text = `${index}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(text),
});

/** A crash model draw that always returns the given values. */
const fixed = (ints: number[], floats: number[]) => ({
  int: (max: number) => Math.min(max - 1, ints.shift() ?? 0),
  next: () => floats.shift() ?? 0.99,
});

describe('MemoryDurableLog', () => {
  it('returns what was saved, in order, with the latest hard state', async () => {
    const log = new MemoryDurableLog();
    await log.save({ term: 1, vote: 'a', commit: 0 }, [entry(1, 1), entry(2, 1)]);
    await log.save({ term: 2, vote: null, commit: 2 }, [entry(3, 2)]);
    expect((await log.load()).map((e) => e.index)).toEqual([1, 2, 3]);
    expect(await log.loadHardState()).toEqual({ term: 2, vote: null, commit: 2 });
  });

  it('an append at index i replaces i and everything after it', async () => {
    const log = new MemoryDurableLog();
    await log.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    await log.append([entry(2, 2, 'new')]);
    const loaded = await log.load();
    expect(loaded.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });

  it('compaction drops entries at or below the index', async () => {
    const log = new MemoryDurableLog();
    await log.append([entry(1, 1), entry(2, 1), entry(3, 1)]);
    await log.compact(2);
    expect((await log.load()).map((e) => e.index)).toEqual([3]);
  });

  it('a crash loses every write that was not synced', () => {
    const log = new MemoryDurableLog();
    log.write({ term: 1, vote: null, commit: 0 }, [entry(1, 1)]);
    log.sync();
    log.write({ term: 2, vote: 'b', commit: 1 }, [entry(2, 2)]);
    log.crash(fixed([0], []), 0);
    const r = log.recover();
    expect(r.entries.map((e) => e.index)).toEqual([1]);
    expect(r.hardState).toEqual({ term: 1, vote: null, commit: 0 });
  });

  it('a crash may keep a prefix of the un-synced writes', () => {
    const log = new MemoryDurableLog();
    log.write(null, [entry(1, 1)]);
    log.write(null, [entry(2, 1)]);
    log.write(null, [entry(3, 1)]);
    log.crash(fixed([2], [0.99]), 0);
    expect(log.recover().entries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('a torn last record fails its checksum and is truncated on recovery', () => {
    const log = new MemoryDurableLog();
    log.write(null, [entry(1, 1)]);
    log.sync();
    log.write(null, [entry(2, 1)]);
    log.write(null, [entry(3, 1, 'torn')]);
    // Both un-synced records reach the disk, the second one cut short after 10 bytes.
    log.crash(fixed([2, 10], [0]), 1);
    const r = log.recover();
    expect(r.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(log.durableRecords()).toBe(2);
  });

  it('recovery never returns a half-written record, whatever the crash', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = new Xoshiro128(seed);
      const log = new MemoryDurableLog();
      log.write(null, [entry(1, 1)]);
      log.sync();
      for (let i = 2; i <= 6; i++) log.write({ term: 1, vote: null, commit: i - 1 }, [entry(i, 1, `v${i}`)]);
      log.crash(random, 0.7);
      const r = log.recover();
      expect(r.entries.map((e) => e.index)).toEqual(
        Array.from({ length: r.entries.length }, (_, k) => k + 1),
      );
      for (const e of r.entries.slice(1)) expect(new TextDecoder().decode(e.data)).toBe(`v${e.index}`);
      if (r.hardState) expect(r.hardState.commit).toBe(r.entries.length - 1);
    }
  });
});
