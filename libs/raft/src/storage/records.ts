/**
 * The record format of WAL segments, as pure functions over bytes (no file system here, so the torn and
 * corrupt cases are tested directly).
 *
 *   [length u32 LE][crc32 u32 LE][type u8][payload: length bytes]
 *
 * The CRC-32 (IEEE, zlib's, computed natively by node:zlib) covers the type byte and the payload. A record is
 * valid only when it is whole, its checksum matches and its payload decodes; the first invalid record ends the
 * valid prefix of a segment.
 *
 * A segment may be zero-filled ahead of its records (preallocated, see wal.ts). No record can start with nine zero
 * bytes (the checksum of a type byte is never 0 for the types that exist), so zeros from a record boundary to the
 * end of the segment are its unused space, not a problem. Zeros followed by anything else are.
 */
import { crc32 } from 'node:zlib';
import { ByteReader, type ByteWriter, CodecError } from '../codec/bytes.js';
import { readEntry, readHardState, writeEntry, writeHardState } from '../codec/message-codec.js';
import type { Entry, HardState } from '../types.js';

export const RECORD_HEADER_BYTES = 9;

export const RecordType = {
  entry: 1,
  hardState: 2,
  /** Entries at or below the index are covered by a snapshot and are not returned by load(). */
  compact: 3,
} as const;

export type WalRecord =
  | { readonly type: 'entry'; readonly entry: Entry }
  | { readonly type: 'hardState'; readonly state: HardState }
  | { readonly type: 'compact'; readonly throughIndex: number };

function checksum(type: number, payload: Uint8Array): number {
  return crc32(payload, crc32(Uint8Array.of(type)));
}

function writeRecord(w: ByteWriter, type: number, writePayload: (w: ByteWriter) => void): void {
  const start = w.length;
  w.u32(0);
  w.u32(0);
  w.u8(type);
  writePayload(w);
  const payload = w.view().subarray(start + RECORD_HEADER_BYTES);
  w.patchU32(start, payload.length);
  w.patchU32(start + 4, checksum(type, payload));
}

export function writeEntryRecord(w: ByteWriter, entry: Entry): void {
  writeRecord(w, RecordType.entry, (w) => writeEntry(w, entry));
}

export function writeHardStateRecord(w: ByteWriter, state: HardState): void {
  writeRecord(w, RecordType.hardState, (w) => writeHardState(w, state));
}

export function writeCompactRecord(w: ByteWriter, throughIndex: number): void {
  writeRecord(w, RecordType.compact, (w) => w.u64(throughIndex));
}

export interface ScanResult {
  readonly records: WalRecord[];
  /** Length of the valid prefix; equals the input length when every record is valid and nothing is preallocated. */
  readonly validBytes: number;
  /** Why scanning stopped before the end, if it did. */
  readonly problem: string | null;
}

function decodePayload(type: number, payload: Uint8Array): WalRecord {
  const r = new ByteReader(payload);
  let record: WalRecord;
  if (type === RecordType.entry) record = { type: 'entry', entry: readEntry(r) };
  else if (type === RecordType.hardState) record = { type: 'hardState', state: readHardState(r) };
  else if (type === RecordType.compact) record = { type: 'compact', throughIndex: r.u64() };
  else return r.fail(`unknown record type ${type}`);
  r.expectEnd();
  return record;
}

/** Whether every byte of `input` from `from` on is zero (a preallocated segment's unused space). */
function allZero(input: Uint8Array, from: number): boolean {
  // Eight bytes at a time where aligned; the scan runs once per segment at recovery.
  let pos = from;
  while (pos < input.length && (input.byteOffset + pos) % 8 !== 0) if (input[pos++] !== 0) return false;
  const words = new BigUint64Array(
    input.buffer,
    input.byteOffset + pos,
    Math.floor((input.length - pos) / 8),
  );
  for (const word of words) if (word !== 0n) return false;
  for (pos += words.length * 8; pos < input.length; pos++) if (input[pos] !== 0) return false;
  return true;
}

/** Reads records until the end or the first torn or corrupt one. Never throws on bad input. */
export function scanRecords(input: Uint8Array, recordBytesMax: number): ScanResult {
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const records: WalRecord[] = [];
  let pos = 0;
  const stop = (problem: string): ScanResult => ({
    records,
    validBytes: pos,
    problem: `${problem} at byte ${pos}`,
  });
  while (pos < input.length) {
    if (input[pos] === 0 && allZero(input, pos)) return { records, validBytes: pos, problem: null };
    if (input.length - pos < RECORD_HEADER_BYTES) return stop('torn record header');
    const length = view.getUint32(pos, true);
    const expected = view.getUint32(pos + 4, true);
    const type = view.getUint8(pos + 8);
    if (length > recordBytesMax) return stop(`record length ${length} over the limit`);
    if (input.length - pos - RECORD_HEADER_BYTES < length) return stop('torn record');
    const payload = input.subarray(pos + RECORD_HEADER_BYTES, pos + RECORD_HEADER_BYTES + length);
    if (checksum(type, payload) !== expected) return stop('checksum mismatch');
    try {
      records.push(decodePayload(type, payload));
    } catch (error: unknown) {
      if (error instanceof CodecError) return stop(`undecodable record (${error.message})`);
      throw error;
    }
    pos += RECORD_HEADER_BYTES + length;
  }
  return { records, validBytes: pos, problem: null };
}

/**
 * Applies an entry the way `LogStorage.append` defines it, on a log held as an array of consecutive entries:
 * an entry at index i replaces i and everything after it; an entry past the end with a gap (the log restarts
 * after an installed snapshot) drops everything before it.
 */
export function applyEntry(log: Entry[], entry: Entry): void {
  const first = log[0];
  if (first === undefined || entry.index > first.index + log.length) {
    log.length = 0;
  } else if (entry.index < first.index + log.length) {
    log.length = Math.max(0, entry.index - first.index);
  }
  log.push(entry);
}
