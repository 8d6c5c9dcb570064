import { describe, expect, it } from 'vitest';
import { SettlementPeers, SettlementSignal } from './settlement-signal.js';

/** Peers in memory: what one instance announces, every follower hears (the NATS version does this over NATS). */
class MemoryPeers extends SettlementPeers {
  readonly announced: string[] = [];
  private readonly followers: Array<(orderId: string) => void> = [];
  announce(orderId: string): void {
    this.announced.push(orderId);
    for (const follower of this.followers) follower(orderId);
  }
  follow(onSettled: (orderId: string) => void): void {
    this.followers.push(onSettled);
  }
  async stop(): Promise<void> {}
}

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

  it('gives up after the timeout (the waiter then re-reads its order)', async () => {
    const signal = new SettlementSignal();
    await signal.next('o1', 1);
    expect(signal.waiting).toBe(0);
  });

  it('releases a cancelled wait at once', async () => {
    const signal = new SettlementSignal();
    const wait = signal.wait('o1', 60_000);
    wait.cancel();
    await wait.woken;
    expect(signal.waiting).toBe(0);
  });

  it('wakes a waiter on another instance through the peers, and announces its own settles', async () => {
    const peers = new MemoryPeers();
    const here = new SettlementSignal(peers);
    const there = new SettlementSignal(peers);
    here.onApplicationBootstrap();
    there.onApplicationBootstrap();
    const waiting = there.wait('o7', 60_000);
    here.settled('o7');
    await waiting.woken;
    expect(peers.announced).toEqual(['o7']);
    expect(there.waiting).toBe(0);
  });

  it('does not announce a settle whose waiter was here (the other instances have nobody to wake)', async () => {
    const peers = new MemoryPeers();
    const here = new SettlementSignal<string>(peers);
    here.onApplicationBootstrap();
    const waiting = here.wait('o8', 60_000);
    here.settled('o8', 'the settled order');
    expect(await waiting.woken).toBe('the settled order');
    expect(peers.announced).toEqual([]);
    here.settled('o9');
    expect(peers.announced).toEqual(['o9']);
  });
});
