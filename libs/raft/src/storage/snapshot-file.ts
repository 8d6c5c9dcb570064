/**
 * The latest snapshot in one file, replaced atomically.
 *
 * File: `<dir>/snapshot-<index, 20 digits>-<term, 20 digits>.snap` =
 *   ["CSNP"][version u8][crc32 u32 LE of the rest][snapshot meta][data length u32][data]
 *
 * Save: write `snapshot.tmp`, fdatasync it, rename it to its final name, fsync the directory (now the new
 * snapshot survives a crash), then delete the older snapshot files and fsync the directory again. A crash at
 * any point leaves the previous snapshot, the new one, or both; a leftover temporary file is never read.
 *
 * Load: the file with the highest index, its checksum verified. A corrupt latest snapshot is an error, not a
 * reason to fall back to an older one: the WAL may already be compacted past the older one's index.
 */
import { crc32 } from 'node:zlib';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ByteReader, ByteWriter, CodecError } from '../codec/bytes.js';
import { readSnapshotMeta, writeSnapshotMeta } from '../codec/message-codec.js';
import type { SnapshotStorage } from '../ports.js';
import type { Snapshot } from '../types.js';
import { fsyncDirectory } from './fs-sync.js';

export class SnapshotCorruptError extends Error {
  override readonly name = 'SnapshotCorruptError';
}

const MAGIC = Buffer.from('CSNP', 'ascii');
const FORMAT_VERSION = 1;
const PREFIX_BYTES = MAGIC.length + 1 + 4;
const TEMP_NAME = 'snapshot.tmp';
const SNAPSHOT_NAME = /^snapshot-(\d{20})-(\d{20})\.snap$/;
const snapshotName = (index: number, term: number): string =>
  `snapshot-${String(index).padStart(20, '0')}-${String(term).padStart(20, '0')}.snap`;

export interface FileSnapshotStorageOptions {
  readonly dir: string;
}

export class FileSnapshotStorage implements SnapshotStorage {
  private readonly dir: string;
  /** Saves run one at a time: they share the temporary file name. */
  private queue: Promise<void> = Promise.resolve();

  constructor(options: FileSnapshotStorageOptions) {
    this.dir = options.dir;
  }

  async load(): Promise<Snapshot | null> {
    const name = (await this.snapshotFiles()).at(-1);
    if (name === undefined) return null;
    const path = join(this.dir, name);
    const file = await readFile(path);
    try {
      return decodeFile(file);
    } catch (error: unknown) {
      if (error instanceof CodecError)
        throw new SnapshotCorruptError(`${path}: ${error.message}`, { cause: error });
      throw error;
    }
  }

  save(snapshot: Snapshot): Promise<void> {
    const run = this.queue.then(() => this.write(snapshot));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(snapshot: Snapshot): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const head = new ByteWriter(256);
    writeSnapshotMeta(head, snapshot.meta);
    head.u32(snapshot.data.length);
    const body = head.view();
    const prefix = Buffer.alloc(PREFIX_BYTES);
    MAGIC.copy(prefix);
    prefix.writeUInt8(FORMAT_VERSION, MAGIC.length);
    prefix.writeUInt32LE(crc32(snapshot.data, crc32(body)), MAGIC.length + 1);

    const tempPath = join(this.dir, TEMP_NAME);
    const handle = await open(tempPath, 'w');
    try {
      await handle.writev([prefix, body, snapshot.data]);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    const name = snapshotName(snapshot.meta.index, snapshot.meta.term);
    await rename(tempPath, join(this.dir, name));
    await fsyncDirectory(this.dir);

    const older = (await this.snapshotFiles()).filter((other) => other !== name);
    for (const other of older) await unlink(join(this.dir, other));
    if (older.length > 0) await fsyncDirectory(this.dir);
  }

  /** Snapshot file names, oldest first. */
  private async snapshotFiles(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((name) => SNAPSHOT_NAME.test(name)).sort();
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }
}

function decodeFile(file: Uint8Array): Snapshot {
  const r = new ByteReader(file);
  const magic = r.raw(MAGIC.length);
  if (!MAGIC.equals(magic)) r.fail('not a snapshot file');
  const version = r.u8();
  if (version !== FORMAT_VERSION) r.fail(`unsupported snapshot format version ${version}`);
  const expected = r.u32();
  if (crc32(file.subarray(PREFIX_BYTES)) !== expected) r.fail('checksum mismatch');
  const meta = readSnapshotMeta(r);
  const data = r.bytes();
  r.expectEnd();
  return { meta, data };
}
