import { describe, expect, it } from 'vitest';
import { SettlementSignal } from './settlement-signal.js';

describe('SettlementSignal', () => {
  it('wakes every waiter of an order at once and forgets them', async () => {
    const signal = new SettlementSignal();
    const woken: string[] = [];
    const a = signal.next('o1', 60_000).then(() => woken.push('a'));
    const b = signal.next('o1', 60_000).then(() => woken.push('b'));
    expect(signal.waiting).toBe(1);
    signal.notify('o2');
    signal.notify('o1');
    await Promise.all([a, b]);
    expect(woken.sort()).toEqual(['a', 'b']);
    expect(signal.waiting).toBe(0);
  });

  it('gives up after the timeout (a settle on another instance is found by polling)', async () => {
    const signal = new SettlementSignal();
    await signal.next('o1', 1);
    expect(signal.waiting).toBe(0);
  });
});
