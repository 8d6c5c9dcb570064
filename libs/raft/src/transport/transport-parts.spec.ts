import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../codec/bytes.js';
import { FrameDecoder, FrameError, writeFrame } from './frames.js';
import { computeProof, newNonce, verifyProof } from './handshake.js';
import { DropOldestQueue } from './send-queue.js';

function framesOf(...bodies: number[][]): Buffer {
  const w = new ByteWriter(16);
  for (const body of bodies) writeFrame(w, 4, (w) => w.raw(Uint8Array.from(body)));
  return Buffer.from(w.toBytes());
}

describe('FrameDecoder', () => {
  const stream = framesOf(
    [1, 2, 3],
    [],
    Array.from({ length: 300 }, (_, i) => i & 0xff),
    [9],
  );

  it('reassembles frames split at every possible point', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new FrameDecoder(1024);
      const frames = [
        ...decoder.pushAndDrain(stream.subarray(0, cut)),
        ...decoder.pushAndDrain(stream.subarray(cut)),
      ];
      expect(frames.map((f) => [f.kind, f.body.length])).toEqual([
        [4, 3],
        [4, 0],
        [4, 300],
        [4, 1],
      ]);
      expect(Array.from(frames[0]!.body)).toEqual([1, 2, 3]);
      expect(frames[2]!.body[299]).toBe(299 & 0xff);
    }
  });

  it('reassembles a stream fed one byte at a time', () => {
    const decoder = new FrameDecoder(1024);
    const frames = [];
    for (let i = 0; i < stream.length; i++) frames.push(...decoder.pushAndDrain(stream.subarray(i, i + 1)));
    expect(frames.map((f) => f.body.length)).toEqual([3, 0, 300, 1]);
  });

  it('refuses an oversized frame as soon as its length arrives', () => {
    const decoder = new FrameDecoder(100);
    const header = Buffer.alloc(4);
    header.writeUInt32LE(101);
    expect(() => decoder.pushAndDrain(header)).toThrow(FrameError);
  });

  it('refuses a zero-length frame (no kind byte)', () => {
    expect(() => new FrameDecoder(100).pushAndDrain(Buffer.alloc(4))).toThrow(/empty/);
  });
});

describe('handshake proofs', () => {
  const secret = Buffer.from('a cluster secret of enough bytes');
  const transcript = { clientId: 'a', serverId: 'b', clientNonce: newNonce(), serverNonce: newNonce() };

  it('verify with the same secret and transcript', () => {
    expect(verifyProof(secret, 'client', transcript, computeProof(secret, 'client', transcript))).toBe(true);
  });

  it('fail with another secret, another nonce, a reflected role or a short proof', () => {
    const proof = computeProof(secret, 'client', transcript);
    expect(verifyProof(Buffer.from('another cluster secret, as long'), 'client', transcript, proof)).toBe(
      false,
    );
    expect(verifyProof(secret, 'client', { ...transcript, serverNonce: newNonce() }, proof)).toBe(false);
    expect(verifyProof(secret, 'server', transcript, proof)).toBe(false);
    expect(verifyProof(secret, 'client', transcript, proof.subarray(0, 16))).toBe(false);
  });
});

describe('DropOldestQueue', () => {
  it('keeps the newest items in order and counts what it dropped', () => {
    const queue = new DropOldestQueue<number>(3);
    for (let i = 1; i <= 5; i++) queue.push(i);
    expect(queue.dropped).toBe(2);
    expect([queue.shift(), queue.shift()]).toEqual([3, 4]);
    queue.push(6);
    queue.push(7);
    expect([queue.shift(), queue.shift(), queue.shift(), queue.shift()]).toEqual([5, 6, 7, undefined]);
    expect(queue.length).toBe(0);
  });
});
