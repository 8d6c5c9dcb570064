/**
 * Length-prefixed frames on a byte stream, as pure code (tested without sockets):
 *
 *   [length u32 LE: bytes that follow][kind u8][body]
 *
 * The length is checked against a limit as soon as its 4 bytes arrive, before anything is buffered for the
 * frame, so a peer cannot make us allocate more than the limit.
 */
import { ByteWriter } from '../codec/bytes.js';

export const FrameKind = {
  /** client -> server: protocol version, client id, the server id it expects, client nonce. */
  hello: 1,
  /** server -> client: server id, server nonce, server proof. */
  challenge: 2,
  /** client -> server: client proof. */
  proof: 3,
  /** an encoded Raft message (message-codec.ts). */
  message: 4,
} as const;

export const FRAME_HEADER_BYTES = 4;

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

export interface Frame {
  readonly kind: number;
  /** A view into the received bytes: decode it before the next push. */
  readonly body: Uint8Array;
}

/** Writes one frame into `w`; `writeBody` appends the body. Returns the frame's size in bytes. */
export function writeFrame(w: ByteWriter, kind: number, writeBody: (w: ByteWriter) => void): number {
  const start = w.length;
  w.u32(0);
  w.u8(kind);
  writeBody(w);
  const frameBytes = w.length - start;
  w.patchU32(start, frameBytes - FRAME_HEADER_BYTES);
  return frameBytes;
}

/** Splits a byte stream into frames. `next` throws {@link FrameError} on an empty or oversized frame. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  /** Length of the frame being received, or -1 while waiting for its header. */
  private expectedBytes = -1;

  /** `frameBytesMax` may be raised later, e.g. once the peer has authenticated. */
  constructor(public frameBytesMax: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /**
   * The next whole frame, or undefined until more bytes arrive. One at a time, so that a limit raised while
   * handling a frame (the handshake completing) applies to the very next one.
   */
  next(): Frame | undefined {
    if (this.expectedBytes < 0) {
      if (this.bufferedBytes < FRAME_HEADER_BYTES) return undefined;
      const length = this.take(FRAME_HEADER_BYTES).readUInt32LE(0);
      if (length === 0) throw new FrameError('empty frame');
      if (length > this.frameBytesMax) {
        throw new FrameError(`frame of ${length} bytes over the limit of ${this.frameBytesMax}`);
      }
      this.expectedBytes = length;
    }
    if (this.bufferedBytes < this.expectedBytes) return undefined;
    const frame = this.take(this.expectedBytes);
    this.expectedBytes = -1;
    return { kind: frame[0] ?? 0, body: frame.subarray(1) };
  }

  /** push, then every whole frame now available. */
  pushAndDrain(chunk: Buffer): Frame[] {
    this.push(chunk);
    const frames: Frame[] = [];
    for (let frame = this.next(); frame !== undefined; frame = this.next()) frames.push(frame);
    return frames;
  }

  private take(bytes: number): Buffer {
    const first = this.chunks[0];
    if (first === undefined) throw new FrameError('internal: nothing buffered');
    this.bufferedBytes -= bytes;
    if (first.length >= bytes) {
      if (first.length === bytes) this.chunks.shift();
      else this.chunks[0] = first.subarray(bytes);
      return first.subarray(0, bytes);
    }
    const out = Buffer.allocUnsafe(bytes);
    let filled = 0;
    while (filled < bytes) {
      const chunk = this.chunks[0];
      if (chunk === undefined) throw new FrameError('internal: buffered bytes miscounted');
      const n = Math.min(chunk.length, bytes - filled);
      chunk.copy(out, filled, 0, n);
      filled += n;
      if (n === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(n);
    }
    return out;
  }
}
