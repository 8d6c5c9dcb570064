import type { DurableLog } from '../ports.js';
import type { Entry, HardState } from '../types.js';
import { crc32 } from './crc32.js';

/** Draws used by the crash model; the simulator passes its seeded PRNG. */
export interface CrashRandom {
  int(maxExclusive: number): number;
  next(): number;
}

export interface RecoveredLog {
  readonly hardState: HardState | null;
  readonly entries: Entry[];
  /** Records dropped because their checksum failed (a torn tail). */
  readonly tornRecords: number;
}

interface RecordBody {
  readonly h?: HardState;
  readonly e?: readonly { t: number; i: number; y: Entry['type']; d: string }[];
  /** Compaction marker: entries at or below are dropped. */
  readonly c?: number;
}

const HEADER_BYTES = 8;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * An in-memory write-ahead log with the failure model of a real disk: records written but not yet
 * synced can be lost on a crash, in part (a prefix survives) and with the last surviving record torn
 * (cut short). Each record is framed as length, CRC-32, payload, and `recover()` truncates at the first
 * record whose frame or checksum fails, exactly as a disk WAL recovers.
 *
 * The synchronous methods (`write`, `sync`, `crash`, `recover`) serve the simulator; the async
 * `DurableLog` methods write and sync at once, for the driver.
 */
export class MemoryDurableLog implements DurableLog {
  private durable: Uint8Array[] = [];
  private pending: { bytes: Uint8Array; body: RecordBody; entries: readonly Entry[] }[] = [];
  /** Replayed views of everything written and of what is synced, kept current so reads are cheap. */
  private view: View = { hardState: null, entries: [] };
  private durableView: View = { hardState: null, entries: [] };
  syncs = 0;

  // ------------------------------------------------------------ synchronous (simulator)

  /** Buffers a record; it is durable only after `sync()`. */
  write(state: HardState | null, entries: readonly Entry[]): void {
    if (state === null && entries.length === 0) return;
    const body: RecordBody = {
      ...(state ? { h: state } : {}),
      ...(entries.length > 0
        ? {
            e: entries.map((x) => ({
              t: x.term,
              i: x.index,
              y: x.type,
              d: Buffer.from(x.data).toString('base64'),
            })),
          }
        : {}),
    };
    this.pending.push({ bytes: frame(body), body, entries });
    applyRecord(this.view, body, entries);
  }

  writeCompaction(throughIndex: number): void {
    const body: RecordBody = { c: throughIndex };
    this.pending.push({ bytes: frame(body), body, entries: [] });
    applyRecord(this.view, body, []);
  }

  sync(): void {
    if (this.pending.length === 0) return;
    for (const rec of this.pending) {
      this.durable.push(rec.bytes);
      applyRecord(this.durableView, rec.body, rec.entries);
    }
    this.pending = [];
    this.syncs++;
    // Rewrite once the compaction markers make most of the log dead (bounded memory, like segment deletion).
    if (this.durable.length > 64 && this.durable.length > 4 * (this.view.entries.length + 1)) this.rewrite();
  }

  /**
   * A crash: a random prefix of the un-synced records reaches the disk, and with probability
   * `tornProbability` the last of those is cut short.
   */
  crash(random: CrashRandom, tornProbability: number): void {
    const surviving = this.pending.slice(0, random.int(this.pending.length + 1)).map((r) => r.bytes);
    if (surviving.length > 0 && random.next() < tornProbability) {
      const last = surviving.pop()!;
      surviving.push(last.subarray(0, random.int(last.byteLength)));
    }
    this.durable.push(...surviving);
    this.pending = [];
    const recovered = this.recover();
    this.view = { hardState: recovered.hardState, entries: recovered.entries };
    this.durableView = { hardState: recovered.hardState, entries: [...recovered.entries] };
  }

  /** Replays the durable records, truncating at the first bad frame (torn or corrupt tail). */
  recover(): RecoveredLog {
    const view: View = { hardState: null, entries: [] };
    let good = 0;
    for (const rec of this.durable) {
      const body = unframe(rec);
      if (!body) break;
      applyRecord(view, body, undefined);
      good++;
    }
    const tornRecords = this.durable.length - good;
    this.durable.length = good;
    return { hardState: view.hardState, entries: view.entries, tornRecords };
  }

  /** Everything written, synced or not (what a reader of the page cache would see). */
  current(): { readonly hardState: HardState | null; readonly entries: readonly Entry[] } {
    return this.view;
  }

  /** What survives a crash that loses every un-synced write. */
  synced(): { readonly hardState: HardState | null; readonly entries: readonly Entry[] } {
    return this.durableView;
  }

  durableRecords(): number {
    return this.durable.length;
  }

  private rewrite(): void {
    const replay = this.recover();
    const first = replay.entries[0];
    const records: Uint8Array[] = [];
    if (first) records.push(frame({ c: first.index - 1 }));
    records.push(frame(encodeBody(replay.hardState, replay.entries)));
    this.durable = records;
  }

  // ------------------------------------------------------------ DurableLog (driver)

  async load(): Promise<Entry[]> {
    return [...this.recover().entries];
  }

  async loadHardState(): Promise<HardState | null> {
    return this.recover().hardState;
  }

  async saveHardState(state: HardState): Promise<void> {
    this.write(state, []);
    this.sync();
  }

  async append(entries: readonly Entry[]): Promise<void> {
    this.write(null, entries);
    this.sync();
  }

  async save(
    state: HardState | null,
    entries: readonly Entry[],
    options: { sync?: boolean } = {},
  ): Promise<void> {
    this.write(state, entries);
    // Unsynced records are what a crash may lose (or tear), exactly as on a disk.
    if (options.sync !== false) this.sync();
  }

  async compact(throughIndex: number): Promise<void> {
    this.writeCompaction(throughIndex);
    this.sync();
  }

  async close(): Promise<void> {
    this.sync();
  }
}

type View = { hardState: HardState | null; entries: Entry[] };

function encodeBody(state: HardState | null, entries: readonly Entry[]): RecordBody {
  return {
    ...(state ? { h: state } : {}),
    e: entries.map((x) => ({ t: x.term, i: x.index, y: x.type, d: Buffer.from(x.data).toString('base64') })),
  };
}

function frame(body: RecordBody): Uint8Array {
  const payload = encoder.encode(JSON.stringify(body));
  const out = new Uint8Array(HEADER_BYTES + payload.byteLength);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, payload.byteLength);
  dv.setUint32(4, crc32(payload));
  out.set(payload, HEADER_BYTES);
  return out;
}

function unframe(rec: Uint8Array): RecordBody | null {
  if (rec.byteLength < HEADER_BYTES) return null;
  const dv = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
  const length = dv.getUint32(0);
  if (rec.byteLength !== HEADER_BYTES + length) return null;
  const payload = rec.subarray(HEADER_BYTES);
  if (crc32(payload) !== dv.getUint32(4)) return null;
  return JSON.parse(decoder.decode(payload)) as RecordBody;
}

/** `decoded` skips base64 decoding when the caller already holds the entries. */
function applyRecord(view: View, body: RecordBody, decoded: readonly Entry[] | undefined): void {
  if (body.h) view.hardState = body.h;
  if (body.e && body.e.length > 0) {
    const entries =
      decoded ??
      body.e.map((x) => ({
        term: x.t,
        index: x.i,
        type: x.y,
        data: new Uint8Array(Buffer.from(x.d, 'base64')),
      }));
    const first = entries[0]!.index;
    const base = view.entries[0]?.index;
    if (base === undefined || first < base) {
      view.entries = [...entries];
    } else if (first > base + view.entries.length) {
      // A gap means an older compaction removed the predecessors: start afresh from here.
      view.entries = [...entries];
    } else {
      // The contract: an entry at index i replaces the stored entry at i and everything after it.
      view.entries = view.entries.slice(0, first - base).concat(entries);
    }
  }
  if (body.c !== undefined) {
    const base = view.entries[0]?.index;
    if (base !== undefined && body.c >= base) view.entries = view.entries.slice(body.c - base + 1);
  }
}
