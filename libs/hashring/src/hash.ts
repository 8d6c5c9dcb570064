/**
 * xxHash32 (Yann Collet), implemented here so the library needs no dependency. It is fast on short keys,
 * passes SMHasher, and its final avalanche step spreads nearby inputs ("instance-1", "instance-2") over
 * the whole 32-bit space, which is what ring positions and Maglev permutations need. It is not a
 * cryptographic hash: a client who controls the hash key can aim at one instance, and bounded loads
 * are what keeps that from overloading it.
 */

const PRIME32_1 = 0x9e3779b1;
const PRIME32_2 = 0x85ebca77;
const PRIME32_3 = 0xc2b2ae3d;
const PRIME32_4 = 0x27d4eb2f;
const PRIME32_5 = 0x165667b1;

function rotl32(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function round32(acc: number, lane: number): number {
  const mixed = (acc + Math.imul(lane, PRIME32_2)) | 0;
  return Math.imul(rotl32(mixed, 13), PRIME32_1);
}

function readU32le(bytes: Uint8Array, i: number): number {
  return bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24) | 0;
}

/** xxHash32 of `bytes[0, lengthBytes)` with a seed; the result is an unsigned 32-bit integer. */
export function xxh32(bytes: Uint8Array, seed = 0, lengthBytes = bytes.length): number {
  let i = 0;
  let h: number;
  if (lengthBytes >= 16) {
    let v1 = (seed + PRIME32_1 + PRIME32_2) | 0;
    let v2 = (seed + PRIME32_2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - PRIME32_1) | 0;
    const limit = lengthBytes - 16;
    while (i <= limit) {
      v1 = round32(v1, readU32le(bytes, i));
      v2 = round32(v2, readU32le(bytes, i + 4));
      v3 = round32(v3, readU32le(bytes, i + 8));
      v4 = round32(v4, readU32le(bytes, i + 12));
      i += 16;
    }
    h = (rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18)) | 0;
  } else {
    h = (seed + PRIME32_5) | 0;
  }
  h = (h + lengthBytes) | 0;
  while (i + 4 <= lengthBytes) {
    h = (h + Math.imul(readU32le(bytes, i), PRIME32_3)) | 0;
    h = Math.imul(rotl32(h, 17), PRIME32_4);
    i += 4;
  }
  while (i < lengthBytes) {
    h = (h + Math.imul(bytes[i]!, PRIME32_5)) | 0;
    h = Math.imul(rotl32(h, 11), PRIME32_1);
    i++;
  }
  return avalanche32(h);
}

function avalanche32(h: number): number {
  h ^= h >>> 15;
  h = Math.imul(h, PRIME32_2);
  h ^= h >>> 13;
  h = Math.imul(h, PRIME32_3);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * murmur3's 32-bit finaliser: a bijection with full avalanche, used to derive further independent-looking
 * values from a hash that is already computed (rendezvous scores) without hashing the bytes again.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// One reusable scratch buffer: hashing a key on the hot path allocates nothing for ASCII keys up to its size.
let scratch = new Uint8Array(256);
const encoder = new TextEncoder();

/** xxHash32 of the UTF-8 bytes of a string. */
export function hashString(text: string, seed = 0): number {
  const length = text.length;
  if (length <= scratch.length) {
    let ascii = true;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) {
        ascii = false;
        break;
      }
      scratch[i] = code;
    }
    if (ascii) return xxh32(scratch, seed, length);
  }
  // Non-ASCII or long: UTF-8 takes at most 3 bytes per UTF-16 code unit.
  if (scratch.length < length * 3) scratch = new Uint8Array(length * 3);
  const { written } = encoder.encodeInto(text, scratch);
  return xxh32(scratch, seed, written);
}
