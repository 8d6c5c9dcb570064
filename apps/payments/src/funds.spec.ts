import { describe, expect, it } from 'vitest';
import type { LedgerKind } from './ledger-entry.entity.js';
import { type AccountView, applyMove } from './funds.js';

const empty: AccountView = {
  customerId: 'c',
  balanceCents: 0,
  heldCents: 0,
  capturedCents: 0,
  depositedCents: 0,
};

/** mulberry32: a small seeded PRNG, so a failing sequence replays from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('applyMove', () => {
  it('moves money between counters as each ledger kind says', () => {
    const deposited = applyMove(empty, 'deposit', 1_000);
    expect(deposited).toMatchObject({ balanceCents: 1_000, depositedCents: 1_000 });
    const held = applyMove(deposited!, 'hold', 300);
    expect(held).toMatchObject({ balanceCents: 700, heldCents: 300 });
    const captured = applyMove(held!, 'capture', 300);
    expect(captured).toMatchObject({ balanceCents: 700, heldCents: 0, capturedCents: 300 });
    const charged = applyMove(captured!, 'charge', 700);
    expect(charged).toMatchObject({ balanceCents: 0, capturedCents: 1_000, depositedCents: 1_000 });
  });

  it('refuses a move its source counter cannot cover', () => {
    expect(applyMove(empty, 'hold', 1)).toBeUndefined();
    expect(applyMove(empty, 'charge', 1)).toBeUndefined();
    expect(applyMove(empty, 'release', 1)).toBeUndefined();
    expect(applyMove(empty, 'capture', 1)).toBeUndefined();
  });

  it('keeps balance + held + captured = deposited and every counter >= 0 over random sequences', () => {
    const kinds: LedgerKind[] = ['deposit', 'hold', 'release', 'capture', 'charge'];
    for (let seed = 1; seed <= 200; seed += 1) {
      const random = prng(seed);
      let account = empty;
      for (let step = 0; step < 100; step += 1) {
        const kind = kinds[Math.floor(random() * kinds.length)] ?? 'deposit';
        const next = applyMove(account, kind, Math.floor(random() * 500));
        if (next !== undefined) account = next;
        const { balanceCents, heldCents, capturedCents, depositedCents } = account;
        expect(Math.min(balanceCents, heldCents, capturedCents), `seed ${seed}`).toBeGreaterThanOrEqual(0);
        expect(balanceCents + heldCents + capturedCents, `seed ${seed}`).toBe(depositedCents);
      }
    }
  });
});
