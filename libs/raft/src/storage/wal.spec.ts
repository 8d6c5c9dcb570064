import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, readdir, readlink, rm, stat, truncate, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Xoshiro128 } from '../core/prng.js';
import type { Entry } from '../types.js';
import { applyEntry, scanRecords } from './records.js';
import { DiskWal, WalClosedError, WalCorruptError, type DiskWalOptions } from './wal.js';

const entry = (index: number, term = 1, dataBytes = 8): Entry => ({
  term,
  index,
  type: 'normal',
  data: new Uint8Array(dataBytes).fill(index & 0xff),
});
const range = (from: number, to: number, term = 1, dataBytes = 8): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term, dataBytes));

let dir: string;
const opened: DiskWal[] = [];

/** Segments of 64 KiB unless a test says otherwise: preallocation (on by default) zero-fills each one. */
async function openWal(options: Partial<DiskWalOptions> = {}): Promise<DiskWal> {
  const wal = await DiskWal.open({ dir, segmentBytesMax: 64 * 1024, ...options });
  opened.push(wal);
  return wal;
}

/** Appends `next` to `wal` and closes it; a fresh open (with `options`) must then load `before` and `next`. */
async function expectWritingResumes(
  wal: DiskWal,
  before: Entry[],
  next: Entry,
  options: Partial<DiskWalOptions>,
): Promise<void> {
  await wal.append([next]);
  await wal.close();
  expect(await (await openWal(options)).load()).toStrictEqual([...before, next]);
}

async function segmentFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.startsWith('wal-')).sort();
}

/** The open flags (`/proc/self/fdinfo`, Linux) of every descriptor this process holds on a segment in `dir`. */
async function segmentOpenFlags(): Promise<number[]> {
  const flags: number[] = [];
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (!target.startsWith(join(dir, 'wal-'))) continue;
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '');
    const octal = /^flags:\s+([0-7]+)$/m.exec(info)?.[1];
    if (octal !== undefined) flags.push(Number.parseInt(octal, 8));
  }
  return flags;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'concord-wal-'));
});

afterEach(async () => {
  for (const wal of opened.splice(0)) await wal.close();
  await rm(dir, { recursive: true, force: true });
});

describe('DiskWal', () => {
  it('starts empty', async () => {
    const wal = await openWal();
    expect(await wal.load()).toEqual([]);
    expect(await wal.loadHardState()).toBeNull();
    expect(await segmentFiles()).toEqual(['wal-0000000000000001.log']);
  });

  it('writes segments through O_DSYNC: each batch is durable when its one write returns', async () => {
    for (const preallocate of [true, false]) {
      await rm(dir, { recursive: true, force: true });
      const wal = await openWal({ preallocate, segmentBytesMax: 4096 });
      await wal.append(range(1, 20, 1, 100));
      await wal.append(range(21, 40, 1, 100)); // past 4 KiB: the second segment is opened by a roll
      const flags = await segmentOpenFlags();
      expect(flags).toHaveLength(1);
      expect(flags[0]! & constants.O_DSYNC).toBe(constants.O_DSYNC);
      expect(wal.stats().segments).toBe(2);
      await wal.close();
      // Reopened after a restart, too.
      await openWal({ preallocate, segmentBytesMax: 4096 });
      expect((await segmentOpenFlags()).map((f) => f & constants.O_DSYNC)).toEqual([constants.O_DSYNC]);
      await opened.pop()!.close();
    }
  });

  it('round-trips entries and hard state across a restart', async () => {
    const wal = await openWal();
    await wal.save({ term: 2, vote: 'b', commit: 0 }, range(1, 3, 2));
    await wal.append(range(4, 5, 2));
    await wal.saveHardState({ term: 2, vote: 'b', commit: 4 });
    expect(await wal.load()).toStrictEqual(range(1, 5, 2));
    await wal.close();

    const again = await openWal();
    expect(await again.load()).toStrictEqual(range(1, 5, 2));
    expect(await again.loadHardState()).toStrictEqual({ term: 2, vote: 'b', commit: 4 });
    expect(again.recovery.truncatedBytes).toBe(0);
  });

  it('coalesces concurrent saves into few fdatasyncs (group commit)', async () => {
    const wal = await openWal();
    await Promise.all(Array.from({ length: 100 }, (_, i) => wal.append([entry(i + 1)])));
    const stats = wal.stats();
    expect(stats.saves).toBe(100);
    expect(stats.fsyncs).toBeLessThanOrEqual(2);
    await wal.close();
    expect(await (await openWal()).load()).toStrictEqual(range(1, 100));
  });

  it('reuses batch buffers without mixing batches: small, grown past the kept size, small again', async () => {
    const wal = await openWal({ segmentBytesMax: 16 * 1024 * 1024, preallocate: false });
    const sizes = [8, 100_000, 8, 5 * 1024 * 1024, 8, 300, 70_000, 8];
    const written: Entry[] = [];
    let index = 1;
    for (const [round, dataBytes] of sizes.entries()) {
      // Two saves in flight: one batch being written while the next one fills.
      const batchA = [entry(index++, 1, dataBytes)];
      const batchB = range(index, index + round, 1, 16);
      index += round + 1;
      await Promise.all([wal.append(batchA), Promise.resolve().then(() => wal.append(batchB))]);
      written.push(...batchA, ...batchB);
    }
    // Compared by digest: a deep comparison of a 5 MiB array element by element takes minutes.
    const digest = (entries: Entry[]) =>
      entries.map((e) => [e.index, e.term, createHash('sha256').update(e.data).digest('hex')]);
    expect(digest(await wal.load())).toStrictEqual(digest(written));
    await wal.close();
    const again = await openWal({ segmentBytesMax: 16 * 1024 * 1024, preallocate: false });
    expect(digest(await again.load())).toStrictEqual(digest(written));
  });

  it('writes a save with sync: false along with the next synced batch, or on close', async () => {
    const wal = await openWal();
    await wal.append(range(1, 2));
    const fsyncs = wal.stats().fsyncs;
    await wal.save({ term: 1, vote: 'a', commit: 1 }, [], { sync: false });
    expect(wal.stats().fsyncs).toBe(fsyncs);
    await wal.append(range(3, 3));
    expect(wal.stats().fsyncs).toBe(fsyncs + 1);
    await wal.save({ term: 1, vote: 'a', commit: 3 }, [], { sync: false });
    await wal.close();
    const again = await openWal();
    expect(await again.load()).toStrictEqual(range(1, 3));
    expect(await again.loadHardState()).toStrictEqual({ term: 1, vote: 'a', commit: 3 });
  });

  it('keeps saves in call order while a sync is in flight', async () => {
    const wal = await openWal();
    const first = wal.append(range(1, 10));
    await Promise.resolve();
    const second = wal.append(range(5, 6, 2)); // replaces 5..10 while the first write may be syncing
    const third = wal.saveHardState({ term: 2, vote: null, commit: 3 });
    await Promise.all([first, second, third]);
    await wal.close();
    const again = await openWal();
    expect(await again.load()).toStrictEqual([...range(1, 4), ...range(5, 6, 2)]);
    expect(await again.loadHardState()).toStrictEqual({ term: 2, vote: null, commit: 3 });
  });

  it('cuts a torn tail (file truncated mid-record) and keeps the records before it', async () => {
    const wal = await openWal({ preallocate: false });
    for (let i = 1; i <= 10; i++) await wal.append([entry(i, 1, 100)]);
    await wal.close();
    const [name] = await segmentFiles();
    const path = join(dir, name!);
    const size = (await stat(path)).size;
    await truncate(path, size - 37);

    const again = await openWal({ preallocate: false });
    expect(await again.load()).toStrictEqual(range(1, 9, 1, 100));
    expect(again.recovery.truncatedBytes).toBeGreaterThan(0);
    expect(again.recovery.problem).toMatch(/torn/);
    expect((await stat(path)).size).toBeLessThan(size - 37);
    // Writing continues cleanly after the cut.
    await expectWritingResumes(again, range(1, 9, 1, 100), entry(10, 2), { preallocate: false });
  });

  it('cuts a last record whose checksum fails and keeps the ones before it', async () => {
    const wal = await openWal({ preallocate: false });
    for (let i = 1; i <= 10; i++) await wal.append([entry(i, 1, 100)]);
    await wal.close();
    const [name] = await segmentFiles();
    const path = join(dir, name!);
    const data = await readFile(path);
    data.writeUInt8(data.readUInt8(data.length - 5) ^ 0x40, data.length - 5);
    await writeFile(path, data);

    const again = await openWal();
    expect(await again.load()).toStrictEqual(range(1, 9, 1, 100));
    expect(again.recovery.problem).toMatch(/checksum/);
  });

  it('recovers exactly the saves wholly on disk, wherever a crash cut the last segment', async () => {
    const wal = await openWal({ preallocate: false });
    const saves: [number, number][] = []; // [segment size after the save, entries then]
    await wal.saveHardState({ term: 1, vote: 'a', commit: 0 });
    for (let i = 1; i <= 8; i++) {
      await wal.save({ term: 1, vote: 'a', commit: i - 1 }, [entry(i, 1, 3 * i)]);
      saves.push([wal.stats().bytes, i]);
    }
    await wal.close();
    const [name] = await segmentFiles();
    const whole = await readFile(join(dir, name!));
    for (let cut = whole.length; cut >= 0; cut -= 11) {
      const crashDir = await mkdtemp(join(tmpdir(), 'concord-wal-cut-'));
      try {
        await writeFile(join(crashDir, name!), whole.subarray(0, cut));
        const recovered = await DiskWal.open({ dir: crashDir, preallocate: false });
        const survivors = saves.filter(([bytes]) => bytes <= cut).at(-1)?.[1] ?? 0;
        expect((await recovered.load()).map((e) => e.index)).toEqual(range(1, survivors).map((e) => e.index));
        // Each save wrote its hard state record, then its entry: the next save's hard state may have made it.
        const commit = (await recovered.loadHardState())?.commit ?? 0;
        expect([Math.max(0, survivors - 1), survivors]).toContain(commit);
        await recovered.close();
      } finally {
        await rm(crashDir, { recursive: true, force: true });
      }
    }
  });

  it('zero-fills each segment before it holds a record, and recovers records followed by zeros', async () => {
    const wal = await openWal({ segmentBytesMax: 4096 });
    expect(await segmentFiles()).toEqual(['wal-0000000000000001.log']);
    expect((await stat(join(dir, 'wal-0000000000000001.log'))).size).toBe(4096);
    await wal.saveHardState({ term: 1, vote: 'a', commit: 0 });
    for (let i = 1; i <= 60; i++) await wal.append([entry(i, 1, 100)]);
    const files = await segmentFiles();
    expect(files.length).toBeGreaterThan(1);
    // Every segment is full size: the sealed ones (records, then zeros) and the active one.
    for (const name of files) expect((await stat(join(dir, name))).size).toBe(4096);
    await wal.close();
    // The next segment was made ahead of need, and is not a segment to recovery.
    expect((await readdir(dir)).sort()).toEqual([...files, 'wal.spare']);

    const again = await openWal({ segmentBytesMax: 4096 });
    expect(again.recovery).toMatchObject({ truncatedBytes: 0, problem: null });
    expect(await again.load()).toStrictEqual(range(1, 60, 1, 100));
    // Writing resumes after the last record, not at the end of the file.
    await expectWritingResumes(again, range(1, 60, 1, 100), entry(61, 2), { segmentBytesMax: 4096 });
  });

  it('cuts a torn record in a preallocated segment and zeroes what followed it', async () => {
    const wal = await openWal({ segmentBytesMax: 8192 });
    for (let i = 1; i <= 10; i++) await wal.append([entry(i, 1, 100)]);
    const valid = wal.stats().bytes;
    await wal.close();
    const [name] = await segmentFiles();
    const path = join(dir, name!);
    // A crash mid-write: the last record's tail never reached the disk (zeros), and a later sector did.
    const data = await readFile(path);
    data.fill(0, valid - 30, valid);
    data.fill(0xab, valid + 200, valid + 300);
    await writeFile(path, data);

    const again = await openWal({ segmentBytesMax: 8192 });
    expect(await again.load()).toStrictEqual(range(1, 9, 1, 100));
    expect(again.recovery.problem).not.toBeNull();
    const after = await readFile(path);
    expect(after.length).toBe(8192);
    expect(after.subarray(again.stats().bytes).every((byte) => byte === 0)).toBe(true);
    await expectWritingResumes(again, range(1, 9, 1, 100), entry(10, 2), { segmentBytesMax: 8192 });
  });

  it('refuses a sealed segment with bytes after its zeros, and grows an old unpreallocated one', async () => {
    const wal = await openWal({ segmentBytesMax: 2048 });
    for (let i = 1; i <= 40; i++) await wal.append([entry(i, 1, 100)]);
    await wal.close();
    const [first] = await segmentFiles();
    const path = join(dir, first!);
    const data = await readFile(path);
    data[data.length - 1] = 1; // in the unused space of a sealed segment: not a crash's doing
    await writeFile(path, data);
    await expect(DiskWal.open({ dir, segmentBytesMax: 2048 })).rejects.toThrow(WalCorruptError);

    // A WAL written without preallocation opens with it: the active segment is zero-filled to full size.
    await rm(dir, { recursive: true, force: true });
    const old = await openWal({ segmentBytesMax: 64 * 1024, preallocate: false });
    for (let i = 1; i <= 5; i++) await old.append([entry(i, 1, 100)]);
    await old.close();
    const [only] = await segmentFiles();
    expect((await stat(join(dir, only!))).size).toBeLessThan(1024);
    const grown = await openWal({ segmentBytesMax: 64 * 1024 });
    expect((await stat(join(dir, only!))).size).toBe(64 * 1024);
    await expectWritingResumes(grown, range(1, 5, 1, 100), entry(6, 1, 100), { segmentBytesMax: 64 * 1024 });
  });

  it('scanning stops cleanly at zeros that run to the end, and nowhere else', () => {
    const zeros = new Uint8Array(100);
    expect(scanRecords(zeros, 1024)).toEqual({ records: [], validBytes: 0, problem: null });
    const holed = new Uint8Array(100);
    holed[99] = 7;
    expect(scanRecords(holed, 1024).problem).not.toBeNull();
    // Unaligned views (a Buffer from the pool) are scanned byte-exactly.
    const backing = new Uint8Array(203);
    backing[202] = 1;
    expect(scanRecords(backing.subarray(3, 202), 1024).problem).toBeNull();
    expect(scanRecords(backing.subarray(3, 203), 1024).problem).not.toBeNull();
  });

  it('refuses to open when a sealed segment is corrupt', async () => {
    const wal = await openWal({ segmentBytesMax: 512 });
    for (let i = 1; i <= 20; i++) await wal.append([entry(i, 1, 100)]);
    await wal.close();
    const [first] = await segmentFiles();
    const path = join(dir, first!);
    const data = await readFile(path);
    data.writeUInt8(data.readUInt8(20) ^ 0x01, 20);
    await writeFile(path, data);
    await expect(DiskWal.open({ dir })).rejects.toThrow(WalCorruptError);
  });

  it('replaces the suffix from an entry index, also across segments', async () => {
    const wal = await openWal({ segmentBytesMax: 600 });
    for (let i = 1; i <= 10; i++) await wal.append([entry(i, 1, 100)]);
    expect((await segmentFiles()).length).toBeGreaterThan(1);
    await wal.append(range(3, 4, 2));
    const expected = [...range(1, 2, 1, 100), ...range(3, 4, 2)];
    expect(await wal.load()).toStrictEqual(expected);
    await wal.close();
    expect(await (await openWal({ segmentBytesMax: 600 })).load()).toStrictEqual(expected);
  });

  it('compaction deletes whole old segments and keeps the hard state', async () => {
    const wal = await openWal({ segmentBytesMax: 1024 });
    await wal.saveHardState({ term: 1, vote: 'a', commit: 0 });
    for (let i = 1; i <= 100; i += 5) await wal.append(range(i, i + 4, 1, 64));
    const before = await segmentFiles();
    expect(before.length).toBeGreaterThan(5);

    await wal.compact(80);
    const after = await segmentFiles();
    expect(after.length).toBeLessThan(before.length);
    expect(after.at(-1)).toBe(before.at(-1));
    expect(wal.stats().segments).toBe(after.length);
    await wal.close();

    const again = await openWal({ segmentBytesMax: 1024 });
    expect(await again.load()).toStrictEqual(range(81, 100, 1, 64));
    expect(await again.loadHardState()).toStrictEqual({ term: 1, vote: 'a', commit: 0 });
  });

  it('keeps disk use bounded when compacting as it goes', async () => {
    const wal = await openWal({ segmentBytesMax: 2048 });
    for (let i = 1; i <= 1000; i += 10) {
      await wal.append(range(i, i + 9, 1, 64));
      if (i > 100) await wal.compact(i - 100);
    }
    expect((await segmentFiles()).length).toBeLessThanOrEqual(8);
    expect(wal.stats().bytes).toBeLessThan(16 * 1024);
  });

  it('restarts the log after a snapshot past its end (a gap)', async () => {
    const wal = await openWal();
    await wal.append(range(1, 5));
    await wal.compact(1000);
    await wal.append(range(1001, 1002, 3));
    await wal.close();
    expect(await (await openWal()).load()).toStrictEqual(range(1001, 1002, 3));
  });

  it('ignores files that are not segments', async () => {
    await writeFile(join(dir, 'wal-junk.tmp'), 'x');
    const wal = await openWal();
    await wal.append(range(1, 2));
    expect(await wal.load()).toStrictEqual(range(1, 2));
  });

  it('rejects non-consecutive entries and any call after close', async () => {
    const wal = await openWal();
    await expect(wal.append([entry(1), entry(3)])).rejects.toThrow(RangeError);
    await wal.close();
    await expect(wal.append([entry(1)])).rejects.toThrow(WalClosedError);
  });
});

describe('WAL records', () => {
  it('scanning random bytes never throws and never returns a record past a bad one', () => {
    const random = new Xoshiro128(7);
    for (let round = 0; round < 2000; round++) {
      const noise = new Uint8Array(random.int(200));
      for (let i = 0; i < noise.length; i++) noise[i] = random.int(256);
      const scan = scanRecords(noise, 1024);
      expect(scan.validBytes).toBeLessThanOrEqual(noise.length);
      if (scan.validBytes < noise.length) expect(scan.problem).not.toBeNull();
    }
  });

  it('applies entries with the append contract', () => {
    const log: Entry[] = [];
    for (const e of range(1, 5)) applyEntry(log, e);
    applyEntry(log, entry(3, 2));
    expect(log.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
    applyEntry(log, entry(9, 3));
    expect(log.map((e) => e.index)).toEqual([9]);
  });
});
