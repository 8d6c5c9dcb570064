import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Snapshot } from '../types.js';
import { FileSnapshotStorage, SnapshotCorruptError } from './snapshot-file.js';

const snapshot = (index: number, dataBytes = 1000): Snapshot => ({
  meta: { index, term: 2, conf: { voters: ['a', 'b', 'c'], learners: [] } },
  data: new Uint8Array(dataBytes).map((_, i) => (i * 7 + index) & 0xff),
});

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'concord-snap-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileSnapshotStorage', () => {
  it('has nothing to load at first, even without its directory', async () => {
    expect(await new FileSnapshotStorage({ dir: join(dir, 'missing') }).load()).toBeNull();
  });

  it('round-trips a snapshot across instances and keeps only the latest file', async () => {
    const store = new FileSnapshotStorage({ dir });
    await store.save(snapshot(10));
    await store.save(snapshot(20, 100_000));
    expect(await new FileSnapshotStorage({ dir }).load()).toStrictEqual(snapshot(20, 100_000));
    expect(await readdir(dir)).toEqual([`snapshot-${'20'.padStart(20, '0')}-${'2'.padStart(20, '0')}.snap`]);
  });

  it('runs concurrent saves one after the other', async () => {
    const store = new FileSnapshotStorage({ dir });
    await Promise.all([store.save(snapshot(1)), store.save(snapshot(2)), store.save(snapshot(3))]);
    expect((await store.load())?.meta.index).toBe(3);
    expect(await readdir(dir)).toHaveLength(1);
  });

  it('ignores a leftover temporary file from a crash mid-save', async () => {
    const store = new FileSnapshotStorage({ dir });
    await store.save(snapshot(10));
    await writeFile(join(dir, 'snapshot.tmp'), Buffer.from('CSNP half-written'));
    expect(await store.load()).toStrictEqual(snapshot(10));
    await store.save(snapshot(11));
    expect(await store.load()).toStrictEqual(snapshot(11));
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('loads the newer of two snapshots left by a crash between rename and cleanup', async () => {
    const first = new FileSnapshotStorage({ dir: join(dir, 'a') });
    await first.save(snapshot(5));
    const second = new FileSnapshotStorage({ dir: join(dir, 'b') });
    await second.save(snapshot(9));
    const [older] = await readdir(join(dir, 'a'));
    const [newer] = await readdir(join(dir, 'b'));
    await writeFile(join(dir, older!), await readFile(join(dir, 'a', older!)));
    await writeFile(join(dir, newer!), await readFile(join(dir, 'b', newer!)));
    expect((await new FileSnapshotStorage({ dir }).load())?.meta.index).toBe(9);
  });

  it('detects a corrupt byte through the checksum', async () => {
    const store = new FileSnapshotStorage({ dir });
    await store.save(snapshot(10));
    const [name] = await readdir(dir);
    const path = join(dir, name!);
    const data = await readFile(path);
    data.writeUInt8(data.readUInt8(data.length - 100) ^ 0x10, data.length - 100);
    await writeFile(path, data);
    await expect(store.load()).rejects.toThrow(SnapshotCorruptError);
  });

  it('detects a truncated file', async () => {
    const store = new FileSnapshotStorage({ dir });
    await store.save(snapshot(10));
    const [name] = await readdir(dir);
    const path = join(dir, name!);
    await writeFile(path, (await readFile(path)).subarray(0, 50));
    await expect(store.load()).rejects.toThrow(SnapshotCorruptError);
  });
});
