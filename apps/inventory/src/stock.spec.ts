import { describe, expect, it } from 'vitest';
import { mergeLines, refusalFor, totalCents } from './stock.js';

describe('mergeLines', () => {
  it('adds repeated skus and sorts by sku, so row locks are always taken in one order', () => {
    expect(
      mergeLines([
        { sku: 'b', qty: 1 },
        { sku: 'a', qty: 2 },
        { sku: 'b', qty: 3 },
      ]),
    ).toEqual([
      { sku: 'a', qty: 2 },
      { sku: 'b', qty: 4 },
    ]);
  });

  it('sorts by UTF-16 code unit: any fixed order will do, as long as every transaction uses the same one', () => {
    expect(
      mergeLines([
        { sku: 'a', qty: 1 },
        { sku: 'B', qty: 1 },
      ]).map((l) => l.sku),
    ).toEqual(['B', 'a']);
  });

  it('keeps an empty order empty', () => {
    expect(mergeLines([])).toEqual([]);
  });
});

describe('totalCents', () => {
  it('is the sum of price times quantity', () => {
    expect(
      totalCents([
        { sku: 'a', qty: 3, priceCents: 150 },
        { sku: 'b', qty: 1, priceCents: 99 },
      ]),
    ).toBe(549);
  });
});

describe('refusalFor', () => {
  it('names an unknown sku and a short one differently', () => {
    expect(refusalFor({ sku: 'x', qty: 2 }, undefined)).toBe('unknown sku x');
    expect(refusalFor({ sku: 'x', qty: 2 }, { stock: 1 })).toBe('out of stock: x (wanted 2, 1 available)');
  });
});
