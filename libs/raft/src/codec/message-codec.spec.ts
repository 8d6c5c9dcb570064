import { describe, expect, it } from 'vitest';
import { Xoshiro128 } from '../core/prng.js';
import type { Entry, Message } from '../types.js';
import { CodecError } from './bytes.js';
import {
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeSnapshot,
} from './message-codec.js';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const entry = (index: number, data: Uint8Array = bytes(index & 0xff, 1, 2)): Entry => ({
  term: 3,
  index,
  type: 'normal',
  data,
});
const meta = { index: 90, term: 4, conf: { voters: ['a', 'b', 'c'], learners: ['d'] } };

/** One of every message variant, with and without each optional field. */
const messages: Message[] = [
  { type: 'prevote', from: 'a', to: 'b', term: 5, lastIndex: 10, lastTerm: 4 },
  { type: 'vote', from: 'a', to: 'b', term: 5, lastIndex: 10, lastTerm: 4, transfer: true },
  { type: 'prevoteResp', from: 'b', to: 'a', term: 5, reject: true },
  { type: 'voteResp', from: 'b', to: 'a', term: 5, reject: false },
  {
    type: 'append',
    from: 'a',
    to: 'b',
    term: 5,
    prevIndex: 9,
    prevTerm: 4,
    commit: 8,
    entries: [
      entry(10),
      { term: 5, index: 11, type: 'noop', data: bytes() },
      { ...entry(12), type: 'config' },
    ],
  },
  { type: 'append', from: 'a', to: 'b', term: 5, prevIndex: 9, prevTerm: 4, commit: 8, entries: [] },
  { type: 'appendResp', from: 'b', to: 'a', term: 5, reject: false, index: 12 },
  {
    type: 'appendResp',
    from: 'b',
    to: 'a',
    term: 5,
    reject: true,
    index: 9,
    conflictTerm: 3,
    conflictIndex: 7,
  },
  { type: 'appendResp', from: 'b', to: 'a', term: 5, reject: true, index: 9, conflictIndex: 7 },
  { type: 'heartbeat', from: 'a', to: 'b', term: 5, commit: 8 },
  { type: 'heartbeat', from: 'a', to: 'b', term: 5, commit: 8, context: 'read-17' },
  { type: 'heartbeatResp', from: 'b', to: 'a', term: 5 },
  { type: 'heartbeatResp', from: 'b', to: 'a', term: 5, context: 'read-17' },
  { type: 'snapshot', from: 'a', to: 'b', term: 5, meta, offset: 4096, chunk: bytes(1, 2, 3), done: false },
  { type: 'snapshotResp', from: 'b', to: 'a', term: 5, reject: false, offset: 4099, done: true },
  { type: 'timeoutNow', from: 'a', to: 'b', term: 5 },
  { type: 'readIndex', from: 'b', to: 'a', term: 5, context: 'ctx-é-✓' },
  { type: 'readIndexResp', from: 'a', to: 'b', term: 5, context: 'ctx', index: 0 },
  { type: 'propose', from: 'b', to: 'a', term: 5, context: 2 ** 40, entries: [bytes(1, 2), bytes()] },
  { type: 'proposeResp', from: 'a', to: 'b', term: 5, context: 3, index: 41, accepted: 2 },
  {
    type: 'proposeResp',
    from: 'c',
    to: 'b',
    term: 5,
    context: 4,
    index: 0,
    accepted: 0,
    refusal: 'notLeader',
    leaderHint: 'a',
  },
  {
    type: 'proposeResp',
    from: 'a',
    to: 'b',
    term: 5,
    context: 5,
    index: 7,
    accepted: 1,
    refusal: 'overloaded',
  },
];

/** Decoding must either succeed or throw a CodecError; anything else is a bug. */
function decodeOrCodecError(input: Uint8Array): void {
  try {
    decodeMessage(input);
  } catch (error: unknown) {
    if (!(error instanceof CodecError)) throw error;
  }
}

describe('message codec', () => {
  it.each(messages.map((m) => [m.type, m] as const))('round-trips %s exactly', (_type, message) => {
    expect(decodeMessage(encodeMessage(message))).toStrictEqual(message);
  });

  it('covers every message type', () => {
    const types = new Set(messages.map((m) => m.type));
    expect(types.size).toBe(15);
  });

  it('round-trips entries, hard state and snapshots', () => {
    const big = entry(2 ** 53 - 1, new Uint8Array(70_000).fill(7));
    expect(decodeEntry(encodeEntry(big))).toStrictEqual(big);
    const hard = { term: 9, vote: 'node-ü', commit: 41 };
    expect(decodeHardState(encodeHardState(hard))).toStrictEqual(hard);
    expect(decodeHardState(encodeHardState({ term: 0, vote: null, commit: 0 }))).toStrictEqual({
      term: 0,
      vote: null,
      commit: 0,
    });
    const snapshot = { meta, data: bytes(9, 8, 7) };
    expect(decodeSnapshot(encodeSnapshot(snapshot))).toStrictEqual(snapshot);
  });

  it('decodes a copy that does not alias the input buffer', () => {
    const encoded = Buffer.from(encodeEntry(entry(5, bytes(1, 2, 3))));
    const decoded = decodeEntry(encoded);
    encoded.fill(0);
    expect(decoded.data).toStrictEqual(bytes(1, 2, 3));
  });

  it('refuses numbers that would lose precision, on encode and on decode', () => {
    expect(() => encodeEntry(entry(2 ** 53))).toThrow(CodecError);
    expect(() => encodeEntry(entry(-1))).toThrow(CodecError);
    const encoded = encodeEntry(entry(1));
    encoded[15] = 0xff; // high byte of the index
    expect(() => decodeEntry(encoded)).toThrow(/safe integer/);
  });

  it('rejects trailing bytes, unknown versions, tags and flags', () => {
    const encoded = encodeMessage(messages[0]!);
    expect(() => decodeMessage(new Uint8Array([...encoded, 0]))).toThrow(/trailing/);
    expect(() => decodeMessage(new Uint8Array([9, ...encoded.subarray(1)]))).toThrow(/version/);
    expect(() => decodeMessage(new Uint8Array([1, 99, ...encoded.subarray(2)]))).toThrow(/message type/);
    const flagged = encodeMessage(messages[0]!);
    flagged[flagged.length - 1] = 0x80;
    expect(() => decodeMessage(flagged)).toThrow(/flags/);
  });

  it('rejects an entry count larger than the input before allocating for it', () => {
    const encoded = encodeMessage(messages[5]!); // append with no entries: the count is the last u32
    encoded.set([0xff, 0xff, 0xff, 0x7f], encoded.length - 4);
    expect(() => decodeMessage(encoded)).toThrow(/count/);
  });

  it('throws only CodecError on every truncation of every message', () => {
    for (const message of messages) {
      const encoded = encodeMessage(message);
      for (let length = 0; length < encoded.length; length++) {
        expect(() => decodeMessage(encoded.subarray(0, length))).toThrow(CodecError);
      }
    }
  });

  it('throws only CodecError on random bytes and on randomly mutated messages (seeded fuzz)', () => {
    const random = new Xoshiro128(20_261_123);
    for (let round = 0; round < 20_000; round++) {
      const noise = new Uint8Array(random.int(64));
      for (let i = 0; i < noise.length; i++) noise[i] = random.int(256);
      // Keep a valid version and type now and then so the fuzz reaches past the header.
      if (noise.length > 2 && random.next() < 0.5) {
        noise[0] = 1;
        noise[1] = 1 + random.int(13);
      }
      decodeOrCodecError(noise);
      const mutated = encodeMessage(messages[random.int(messages.length)]!);
      for (let flips = 1 + random.int(3); flips > 0; flips--)
        mutated[random.int(mutated.length)] = random.int(256);
      decodeOrCodecError(mutated);
    }
  });
});
