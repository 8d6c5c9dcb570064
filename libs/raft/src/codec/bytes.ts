/**
 * Little-endian byte writer and bounds-checked reader shared by the message codec and the storage formats.
 * The reader treats its input as untrusted: every length is checked against what is left before anything is
 * allocated, and every failure is a {@link CodecError} (never a RangeError or TypeError from deep inside).
 */

/** The only error decoding ever throws. `offset` is where in the input the problem was found. */
export class CodecError extends Error {
  override readonly name = 'CodecError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
  }
}

const TWO_POW_32 = 0x1_0000_0000;
/** Numbers travel as u64 but must stay exact in a JS number, so the high word is capped at 2^21 - 1. */
const U64_HIGH_WORD_MAX = 0x1f_ffff;
export const STRING_BYTES_MAX = 0xffff;

/** A growable output buffer. Not re-entrant: encode functions reset and reuse one instance. */
export class ByteWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 4096) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  get length(): number {
    return this.pos;
  }

  /** Bytes it can hold before growing. */
  get capacity(): number {
    return this.buf.length;
  }

  reset(): void {
    this.pos = 0;
  }

  /** Forgets everything written after `length` (undoes a partly written item). */
  rewind(length: number): void {
    if (length < 0 || length > this.pos) throw new RangeError(`rewind to ${length} of ${this.pos}`);
    this.pos = length;
  }

  /** A copy of what was written (the scratch buffer is reused by the next encode). */
  toBytes(): Uint8Array {
    return new Uint8Array(this.buf.subarray(0, this.pos));
  }

  /** A view of what was written, valid until the next write or reset. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(extraBytes: number): void {
    const needed = this.pos + extraBytes;
    if (needed <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < needed) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buf[this.pos++] = value;
  }

  u16(value: number): void {
    this.ensure(2);
    this.buf.writeUInt16LE(value, this.pos);
    this.pos += 2;
  }

  u32(value: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(value, this.pos);
    this.pos += 4;
  }

  /** Overwrites a u32 written earlier (length and checksum prefixes). */
  patchU32(at: number, value: number): void {
    this.buf.writeUInt32LE(value, at);
  }

  /** A non-negative safe integer (terms, indices, offsets) as a little-endian u64. */
  u64(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new CodecError(`cannot encode ${value} as u64`, this.pos);
    }
    this.ensure(8);
    this.buf.writeUInt32LE(value % TWO_POW_32, this.pos);
    this.buf.writeUInt32LE(Math.floor(value / TWO_POW_32), this.pos + 4);
    this.pos += 8;
  }

  bool(value: boolean): void {
    this.u8(value ? 1 : 0);
  }

  /** UTF-8 with a u16 byte-length prefix (node ids, contexts). */
  string(value: string): void {
    this.ensure(2 + value.length * 3);
    const written = this.buf.write(value, this.pos + 2, 'utf8');
    if (written > STRING_BYTES_MAX) throw new CodecError(`string of ${written} bytes too long`, this.pos);
    this.buf.writeUInt16LE(written, this.pos);
    this.pos += 2 + written;
  }

  /** Raw bytes with a u32 length prefix. */
  bytes(value: Uint8Array): void {
    this.ensure(4 + value.length);
    this.buf.writeUInt32LE(value.length, this.pos);
    this.buf.set(value, this.pos + 4);
    this.pos += 4 + value.length;
  }

  /** Raw bytes without a prefix. */
  raw(value: Uint8Array): void {
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads what {@link ByteWriter} wrote; throws only {@link CodecError}. */
export class ByteReader {
  private readonly view: DataView;
  private pos: number;
  private readonly end: number;

  constructor(
    private readonly input: Uint8Array,
    start = 0,
    end = input.length,
  ) {
    this.view = new DataView(input.buffer, input.byteOffset, input.byteLength);
    this.pos = start;
    this.end = end;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(message: string): never {
    throw new CodecError(message, this.pos);
  }

  private need(bytes: number): void {
    if (this.end - this.pos < bytes) this.fail(`truncated: need ${bytes} bytes, have ${this.end - this.pos}`);
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.pos++);
  }

  u16(): number {
    this.need(2);
    const value = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return value;
  }

  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return value;
  }

  u64(): number {
    this.need(8);
    const low = this.view.getUint32(this.pos, true);
    const high = this.view.getUint32(this.pos + 4, true);
    if (high > U64_HIGH_WORD_MAX) this.fail('u64 beyond the safe integer range');
    this.pos += 8;
    return high * TWO_POW_32 + low;
  }

  bool(): boolean {
    const value = this.u8();
    if (value > 1) this.fail(`invalid boolean ${value}`);
    return value === 1;
  }

  string(): string {
    const length = this.u16();
    this.need(length);
    const start = this.pos;
    this.pos += length;
    try {
      return utf8.decode(this.input.subarray(start, start + length));
    } catch {
      throw new CodecError('invalid UTF-8', start);
    }
  }

  /** A copy, so that a decoded value never pins the (possibly large) input buffer. */
  bytes(): Uint8Array {
    const length = this.u32();
    return this.raw(length);
  }

  raw(length: number): Uint8Array {
    this.need(length);
    const start = this.pos;
    this.pos += length;
    // Not input.slice: on a Buffer that is a view, not a copy.
    return new Uint8Array(this.input.subarray(start, start + length));
  }

  /** Guards a count read from the input before allocating for it: each item takes at least `minBytes`. */
  count(minBytesEach: number): number {
    const n = this.u32();
    if (n * minBytesEach > this.remaining) this.fail(`count ${n} exceeds the input`);
    return n;
  }

  expectEnd(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} trailing bytes`);
  }
}
