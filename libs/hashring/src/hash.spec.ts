import { describe, expect, it } from 'vitest';
import { fmix32, hashString, xxh32 } from './hash.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('xxh32', () => {
  it('matches the reference implementation test vectors', () => {
    expect(xxh32(utf8(''))).toBe(0x02cc5d05);
    expect(xxh32(utf8('a'))).toBe(0x550d7456);
    expect(xxh32(utf8('abc'))).toBe(0x32d153ff);
    // 39 bytes: exercises the 16-byte stripes, the 4-byte tail and the byte tail.
    expect(xxh32(utf8('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
  });

  it('depends on the seed', () => {
    expect(xxh32(utf8('abc'), 1)).not.toBe(xxh32(utf8('abc'), 0));
  });
});

describe('hashString', () => {
  it('hashes the UTF-8 bytes, on the ASCII fast path and off it', () => {
    for (const text of ['', 'instance-7', 'clé-ü-日本', 'x'.repeat(300), 'é'.repeat(200), '😀 emoji']) {
      expect(hashString(text, 42)).toBe(xxh32(utf8(text), 42));
    }
  });

  it('spreads neighbouring keys over the 32-bit space (avalanche)', () => {
    // Flipping one input character should flip about half of the 32 output bits.
    let flippedBits = 0;
    const samples = 2000;
    for (let i = 0; i < samples; i++) {
      const diff = (hashString(`key-${i}a`) ^ hashString(`key-${i}b`)) >>> 0;
      flippedBits += diff.toString(2).split('1').length - 1;
    }
    const mean = flippedBits / samples;
    expect(mean).toBeGreaterThan(15);
    expect(mean).toBeLessThan(17);
  });
});

describe('fmix32', () => {
  it('is a bijection on a sample (no two inputs collide) and maps 0 to 0', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(fmix32(i));
    expect(seen.size).toBe(10_000);
    expect(fmix32(0)).toBe(0);
  });
});
