/**
 * Binary encoding of Raft messages, log entries, hard state and snapshot metadata.
 *
 * Why binary and not JSON, measured with `npx tsx libs/raft/src/codec/codec.bench.ts` (Node 20.20, 2 shared
 * cores, one encode + decode round trip; JSON encodes byte fields as base64 and its decoder does not validate
 * the shape, which flatters it):
 *
 *   message                        binary       JSON+base64  speed-up  bytes binary / JSON
 *   heartbeat                      661 k/s      207 k/s         3.2x   35 / 75
 *   appendResp                     622 k/s      230 k/s         2.7x   36 / 91
 *   append, 1 entry of 64 B        290 k/s      67.5 k/s        4.3x   139 / 266
 *   append, 1 entry of 1 KiB       127 k/s      46.4 k/s        2.7x   1099 / 1546
 *   append, 64 entries of 64 B     62.8 k/s     4.1 k/s        15.5x   5494 / 9716
 *   append, 64 entries of 1 KiB    8.0 k/s      1.0 k/s         7.6x   66934 / 91636
 *
 * Binary is 3 to 15 times faster, 27 to 53 % smaller, and its decoder checks every field on the way.
 *
 * Layout: every number is a little-endian u64 (kept exact in a JS number), strings are UTF-8 with a u16
 * length, byte fields have a u32 length. A message starts with a format version byte and a type tag.
 * Decoding untrusted input throws {@link CodecError} and nothing else.
 */
import type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  NodeId,
  ProposeRefusal,
  Snapshot,
  SnapshotMeta,
} from '../types.js';
import { ByteReader, ByteWriter, CodecError } from './bytes.js';

export const MESSAGE_FORMAT_VERSION = 1;

const MESSAGE_TAGS: Record<MessageType, number> = {
  prevote: 1,
  vote: 2,
  prevoteResp: 3,
  voteResp: 4,
  append: 5,
  appendResp: 6,
  heartbeat: 7,
  heartbeatResp: 8,
  snapshot: 9,
  snapshotResp: 10,
  timeoutNow: 11,
  readIndex: 12,
  readIndexResp: 13,
  propose: 14,
  proposeResp: 15,
};
const REFUSAL_TAGS: Record<ProposeRefusal, number> = { notLeader: 1, transferring: 2, overloaded: 3 };
const REFUSALS: readonly (ProposeRefusal | undefined)[] = [
  undefined,
  'notLeader',
  'transferring',
  'overloaded',
];
/** A proposal's data: at least its u32 length. */
const PROPOSAL_BYTES_MIN = 4;
const HAS_LEADER_HINT = 1;
const MESSAGE_TYPES = new Map<number, MessageType>(
  Object.entries(MESSAGE_TAGS).map(([type, tag]) => [tag, type as MessageType]),
);

const ENTRY_TAGS: Record<EntryType, number> = { normal: 0, noop: 1, config: 2 };
const ENTRY_TYPES: readonly EntryType[] = ['normal', 'noop', 'config'];
/** term + index + type + data length: the least an encoded entry can take. */
const ENTRY_BYTES_MIN = 8 + 8 + 1 + 4;

// Bits of the optional-fields byte.
const HAS_TRANSFER = 1;
const HAS_CONFLICT_TERM = 1;
const HAS_CONFLICT_INDEX = 2;
const HAS_CONTEXT = 1;

export function writeEntry(w: ByteWriter, entry: Entry): void {
  w.u64(entry.term);
  w.u64(entry.index);
  w.u8(ENTRY_TAGS[entry.type]);
  w.bytes(entry.data);
}

export function readEntry(r: ByteReader): Entry {
  const term = r.u64();
  const index = r.u64();
  const tag = r.u8();
  const type = ENTRY_TYPES[tag];
  if (type === undefined) r.fail(`unknown entry type ${tag}`);
  return { term, index, type, data: r.bytes() };
}

export function writeHardState(w: ByteWriter, state: HardState): void {
  w.u64(state.term);
  w.u64(state.commit);
  w.bool(state.vote !== null);
  if (state.vote !== null) w.string(state.vote);
}

export function readHardState(r: ByteReader): HardState {
  const term = r.u64();
  const commit = r.u64();
  const vote = r.bool() ? r.string() : null;
  return { term, vote, commit };
}

function writeIds(w: ByteWriter, ids: readonly NodeId[]): void {
  w.u32(ids.length);
  for (const id of ids) w.string(id);
}

function readIds(r: ByteReader): NodeId[] {
  const n = r.count(2);
  const ids: NodeId[] = [];
  for (let i = 0; i < n; i++) ids.push(r.string());
  return ids;
}

export function writeSnapshotMeta(w: ByteWriter, meta: SnapshotMeta): void {
  w.u64(meta.index);
  w.u64(meta.term);
  writeIds(w, meta.conf.voters);
  writeIds(w, meta.conf.learners);
}

export function readSnapshotMeta(r: ByteReader): SnapshotMeta {
  const index = r.u64();
  const term = r.u64();
  const conf: ConfState = { voters: readIds(r), learners: readIds(r) };
  return { index, term, conf };
}

export function writeMessage(w: ByteWriter, m: Message): void {
  const tag = MESSAGE_TAGS[m.type] as number | undefined;
  if (tag === undefined) throw new CodecError(`cannot encode message type ${String(m.type)}`, w.length);
  w.u8(MESSAGE_FORMAT_VERSION);
  w.u8(tag);
  w.string(m.from);
  w.string(m.to);
  w.u64(m.term);
  switch (m.type) {
    case 'prevote':
    case 'vote':
      w.u64(m.lastIndex);
      w.u64(m.lastTerm);
      w.u8(m.transfer === true ? HAS_TRANSFER : 0);
      return;
    case 'prevoteResp':
    case 'voteResp':
      w.bool(m.reject);
      return;
    case 'append':
      w.u64(m.prevIndex);
      w.u64(m.prevTerm);
      w.u64(m.commit);
      w.u32(m.entries.length);
      for (const entry of m.entries) writeEntry(w, entry);
      return;
    case 'appendResp':
      w.bool(m.reject);
      w.u64(m.index);
      w.u8(
        (m.conflictTerm !== undefined ? HAS_CONFLICT_TERM : 0) |
          (m.conflictIndex !== undefined ? HAS_CONFLICT_INDEX : 0),
      );
      if (m.conflictTerm !== undefined) w.u64(m.conflictTerm);
      if (m.conflictIndex !== undefined) w.u64(m.conflictIndex);
      return;
    case 'heartbeat':
      w.u64(m.commit);
      writeOptionalContext(w, m.context);
      return;
    case 'heartbeatResp':
      writeOptionalContext(w, m.context);
      return;
    case 'snapshot':
      writeSnapshotMeta(w, m.meta);
      w.u64(m.offset);
      w.bool(m.done);
      w.bytes(m.chunk);
      return;
    case 'snapshotResp':
      w.bool(m.reject);
      w.u64(m.offset);
      w.bool(m.done);
      return;
    case 'timeoutNow':
      return;
    case 'readIndex':
      w.string(m.context);
      return;
    case 'readIndexResp':
      w.string(m.context);
      w.u64(m.index);
      return;
    case 'propose':
      w.u64(m.context);
      w.u32(m.entries.length);
      for (const data of m.entries) w.bytes(data);
      return;
    case 'proposeResp':
      w.u64(m.context);
      w.u64(m.index);
      w.u32(m.accepted);
      w.u8(m.refusal === undefined ? 0 : REFUSAL_TAGS[m.refusal]);
      writeFlaggedString(w, m.leaderHint);
      return;
  }
}

function writeFlaggedString(w: ByteWriter, value: string | undefined): void {
  w.u8(value !== undefined ? HAS_LEADER_HINT : 0);
  if (value !== undefined) w.string(value);
}

function writeOptionalContext(w: ByteWriter, context: string | undefined): void {
  w.u8(context !== undefined ? HAS_CONTEXT : 0);
  if (context !== undefined) w.string(context);
}

function readFlags(r: ByteReader, allowed: number): number {
  const flags = r.u8();
  if ((flags & ~allowed) !== 0) r.fail(`unknown flags ${flags}`);
  return flags;
}

function readOptionalContext(r: ByteReader): { context?: string } {
  return readFlags(r, HAS_CONTEXT) !== 0 ? { context: r.string() } : {};
}

export function readMessage(r: ByteReader): Message {
  const version = r.u8();
  if (version !== MESSAGE_FORMAT_VERSION) r.fail(`unsupported message format version ${version}`);
  const tag = r.u8();
  const type = MESSAGE_TYPES.get(tag);
  if (type === undefined) r.fail(`unknown message type ${tag}`);
  const from = r.string();
  const to = r.string();
  const term = r.u64();
  switch (type) {
    case 'prevote':
    case 'vote': {
      const lastIndex = r.u64();
      const lastTerm = r.u64();
      const transfer = readFlags(r, HAS_TRANSFER) !== 0;
      return { type, from, to, term, lastIndex, lastTerm, ...(transfer ? { transfer } : {}) };
    }
    case 'prevoteResp':
    case 'voteResp':
      return { type, from, to, term, reject: r.bool() };
    case 'append': {
      const prevIndex = r.u64();
      const prevTerm = r.u64();
      const commit = r.u64();
      const n = r.count(ENTRY_BYTES_MIN);
      const entries: Entry[] = [];
      for (let i = 0; i < n; i++) entries.push(readEntry(r));
      return { type, from, to, term, prevIndex, prevTerm, entries, commit };
    }
    case 'appendResp': {
      const reject = r.bool();
      const index = r.u64();
      const flags = readFlags(r, HAS_CONFLICT_TERM | HAS_CONFLICT_INDEX);
      const conflictTerm = (flags & HAS_CONFLICT_TERM) !== 0 ? r.u64() : undefined;
      const conflictIndex = (flags & HAS_CONFLICT_INDEX) !== 0 ? r.u64() : undefined;
      return {
        type,
        from,
        to,
        term,
        reject,
        index,
        ...(conflictTerm !== undefined ? { conflictTerm } : {}),
        ...(conflictIndex !== undefined ? { conflictIndex } : {}),
      };
    }
    case 'heartbeat': {
      const commit = r.u64();
      return { type, from, to, term, commit, ...readOptionalContext(r) };
    }
    case 'heartbeatResp':
      return { type, from, to, term, ...readOptionalContext(r) };
    case 'snapshot': {
      const meta = readSnapshotMeta(r);
      const offset = r.u64();
      const done = r.bool();
      return { type, from, to, term, meta, offset, done, chunk: r.bytes() };
    }
    case 'snapshotResp': {
      const reject = r.bool();
      const offset = r.u64();
      return { type, from, to, term, reject, offset, done: r.bool() };
    }
    case 'timeoutNow':
      return { type, from, to, term };
    case 'readIndex':
      return { type, from, to, term, context: r.string() };
    case 'readIndexResp': {
      const context = r.string();
      return { type, from, to, term, context, index: r.u64() };
    }
    case 'propose': {
      const context = r.u64();
      const n = r.count(PROPOSAL_BYTES_MIN);
      const entries: Uint8Array[] = [];
      for (let i = 0; i < n; i++) entries.push(r.bytes());
      return { type, from, to, term, context, entries };
    }
    case 'proposeResp': {
      const context = r.u64();
      const index = r.u64();
      const accepted = r.u32();
      const refusalTag = r.u8();
      const refusal = REFUSALS[refusalTag];
      if (refusal === undefined && refusalTag !== 0) r.fail(`unknown refusal ${refusalTag}`);
      const leaderHint = readFlags(r, HAS_LEADER_HINT) !== 0 ? r.string() : undefined;
      return {
        type,
        from,
        to,
        term,
        context,
        index,
        accepted,
        ...(refusal !== undefined ? { refusal } : {}),
        ...(leaderHint !== undefined ? { leaderHint } : {}),
      };
    }
  }
}

const SCRATCH_BYTES = 64 * 1024;
/** Kept after a large encode only up to this size, so one big snapshot does not pin its buffer forever. */
const SCRATCH_BYTES_KEPT_MAX = 1024 * 1024;
let scratch = new ByteWriter(SCRATCH_BYTES);

function encodeWith<T>(write: (w: ByteWriter, value: T) => void, value: T): Uint8Array {
  scratch.reset();
  write(scratch, value);
  const bytes = scratch.toBytes();
  if (bytes.length > SCRATCH_BYTES_KEPT_MAX) scratch = new ByteWriter(SCRATCH_BYTES);
  return bytes;
}

function decodeWith<T>(read: (r: ByteReader) => T, input: Uint8Array): T {
  const r = new ByteReader(input);
  const value = read(r);
  r.expectEnd();
  return value;
}

export const encodeMessage = (message: Message): Uint8Array => encodeWith(writeMessage, message);
/** @throws {CodecError} on any malformed input, and only then. */
export const decodeMessage = (input: Uint8Array): Message => decodeWith(readMessage, input);

export const encodeEntry = (entry: Entry): Uint8Array => encodeWith(writeEntry, entry);
export const decodeEntry = (input: Uint8Array): Entry => decodeWith(readEntry, input);

export const encodeHardState = (state: HardState): Uint8Array => encodeWith(writeHardState, state);
export const decodeHardState = (input: Uint8Array): HardState => decodeWith(readHardState, input);

function writeSnapshot(w: ByteWriter, snapshot: Snapshot): void {
  writeSnapshotMeta(w, snapshot.meta);
  w.bytes(snapshot.data);
}

function readSnapshot(r: ByteReader): Snapshot {
  const meta = readSnapshotMeta(r);
  return { meta, data: r.bytes() };
}

export const encodeSnapshot = (snapshot: Snapshot): Uint8Array => encodeWith(writeSnapshot, snapshot);
export const decodeSnapshot = (input: Uint8Array): Snapshot => decodeWith(readSnapshot, input);

export { CodecError };
