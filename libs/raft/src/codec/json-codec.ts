/**
 * The JSON encoding the binary codec was measured against (see codec.bench.ts). Byte fields travel as base64.
 * Kept so that the measurement can be re-run; production code uses message-codec.ts.
 */
import type { Message } from '../types.js';

function replacer(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? { $b64: Buffer.from(value).toString('base64') } : value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value === 'object' && value !== null && '$b64' in value) {
    const b64 = value.$b64;
    if (typeof b64 === 'string') return new Uint8Array(Buffer.from(b64, 'base64'));
  }
  return value;
}

export function encodeMessageJson(message: Message): Uint8Array {
  return Buffer.from(JSON.stringify(message, replacer), 'utf8');
}

/** Restores byte fields but does not validate the shape: a fair JSON decoder would be slower still. */
export function decodeMessageJson(input: Uint8Array): Message {
  return JSON.parse(
    Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8'),
    reviver,
  ) as Message;
}
