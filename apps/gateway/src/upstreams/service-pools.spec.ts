import { hashKey } from '@concord/hashring';
import { DEFAULT_BREAKER_SETTINGS, FakeClock, HealthTracker } from '@concord/resilience';
import { describe, expect, it } from 'vitest';
import { ServicePools } from './service-pools.js';
import type { UpstreamInstance } from './static-upstreams.js';

const instances = (n: number): UpstreamInstance[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `o${i}`,
    url: `http://127.0.0.1:${9000 + i}`,
    weight: 1,
    zone: undefined,
  }));
const keys = Array.from({ length: 2_000 }, (_, i) => `key-${i}`);
const none = undefined;

function setup(algorithm: 'ring' | 'maglev' | 'rendezvous' = 'ring') {
  const clock = new FakeClock(1_000_000);
  const health = new HealthTracker({ consecutiveFailuresToEject: 2 }, clock);
  const closed: string[] = [];
  const pools = new ServicePools<string>({
    algorithm,
    loadFactor: 1.25,
    health,
    clock,
    breakerSettings: () => ({ ...DEFAULT_BREAKER_SETTINGS, volumeThreshold: 2, healthDriven: false }),
    budget: { retryRatio: 0.2, minRetriesPerSecond: 3 },
    openClient: (instance) => `client:${instance.url}`,
    closeClient: (client) => closed.push(client),
  });
  health.onChange((change) => pools.invalidate(change.service));
  pools.setInstances('orders', instances(3));
  const choose = (keyHash: number, tried?: readonly string[]) => {
    const choice = pools.chooseFor('orders', keyHash, tried);
    return choice && { instance: choice.slot.instance, passedOver: choice.passedOver, slot: choice.slot };
  };
  const owners = () => new Map(keys.map((k) => [k, choose(hashKey(k))?.instance.id]));
  return { pools, health, owners, choose, clock, closed };
}

describe('ServicePools', () => {
  it.each(['ring', 'rendezvous'] as const)('%s: when an instance leaves, only its keys move', (algorithm) => {
    const { pools, owners } = setup(algorithm);
    const before = owners();
    pools.setInstances(
      'orders',
      instances(3).filter((i) => i.id !== 'o1'),
    );
    const after = owners();
    for (const key of keys) {
      if (before.get(key) !== 'o1') expect(after.get(key)).toBe(before.get(key));
      else expect(after.get(key)).not.toBe('o1');
    }
  });

  it('maglev: when an instance leaves, few other keys move (minimal, not zero, disruption)', () => {
    const { pools, owners } = setup('maglev');
    const before = owners();
    pools.setInstances(
      'orders',
      instances(3).filter((i) => i.id !== 'o1'),
    );
    const after = owners();
    const others = keys.filter((k) => before.get(k) !== 'o1');
    const moved = others.filter((k) => after.get(k) !== before.get(k)).length;
    expect(moved / others.length).toBeLessThan(0.05);
    for (const key of keys) expect(after.get(key)).not.toBe('o1');
  });

  it('passes over an ejected instance and keeps the others keys where they were', () => {
    const { health, owners } = setup();
    const before = owners();
    health.recordResponse('orders', 'o2', true);
    health.recordResponse('orders', 'o2', true);
    const after = owners();
    for (const key of keys) {
      if (before.get(key) === 'o2') expect(after.get(key)).not.toBe('o2');
      else expect(after.get(key)).toBe(before.get(key));
    }
  });

  it('passes over an instance whose breaker is open, and over instances already tried', () => {
    const { choose, clock } = setup();
    const key = hashKey('k');
    const first = choose(key, none)!;
    first.slot.breaker.record(true, clock.nowMs());
    first.slot.breaker.record(true, clock.nowMs());
    expect(first.slot.breaker.state).toBe('open');
    const second = choose(key, none)!.instance.id;
    expect(second).not.toBe(first.instance.id);
    const third = choose(key, [second])!.instance.id;
    expect(new Set([first.instance.id, second, third]).size).toBe(3);
    expect(choose(key, ['o0', 'o1', 'o2'])).toBeUndefined();
  });

  it('gives a half-open instance exactly one trial request', async () => {
    const { choose, clock } = setup();
    const key = hashKey('k');
    const first = choose(key, none)!;
    first.slot.breaker.record(true, clock.nowMs());
    first.slot.breaker.record(true, clock.nowMs());
    await clock.advance(10_000);
    expect(choose(key, none)!.instance.id).toBe(first.instance.id);
    expect(first.slot.breaker.state).toBe('halfOpen');
    expect(choose(key, none)!.instance.id).not.toBe(first.instance.id);
    first.slot.breaker.record(false, clock.nowMs());
    expect(first.slot.breaker.state).toBe('closed');
    expect(choose(key, none)!.instance.id).toBe(first.instance.id);
  });

  it('keeps a retry budget only for services that have instances, and closes clients that leave', () => {
    const { pools, closed } = setup();
    expect(pools.pool('orders')?.budget).toBeDefined();
    expect(pools.pool('nope')).toBeUndefined();
    pools.setInstances('orders', instances(2));
    expect(closed).toEqual(['client:http://127.0.0.1:9002']);
    pools.setInstances('orders', []);
    expect(pools.pool('orders')).toBeUndefined();
  });

  it('moves a key off its instance when that one is at its bounded-load limit', () => {
    const { pools, choose } = setup();
    const key = hashKey('hot');
    const preferred = choose(key, none)!.instance.id;
    const loads = pools.pool('orders')!.loads;
    // 3 in flight on the preferred one: bound = ceil(1.25 x 4 / 3) = 2, so it is passed over.
    for (let i = 0; i < 3; i++) loads.acquire(preferred);
    const choice = choose(key, none)!;
    expect(choice.instance.id).not.toBe(preferred);
    expect(choice.passedOver).toBe(1);
    for (let i = 0; i < 3; i++) loads.release(preferred);
    expect(choose(key, none)!.instance.id).toBe(preferred);
  });

  it('has nothing for an unknown or empty service', () => {
    const { pools, choose } = setup();
    expect(pools.chooseFor('nope', 1)).toBeUndefined();
    pools.setInstances('orders', []);
    expect(choose(1)).toBeUndefined();
  });

  it('shows key shares that add up to one', () => {
    const { pools } = setup();
    const view = pools.view('orders')!;
    expect(view.instances.map((i) => i.id)).toEqual(['o0', 'o1', 'o2']);
    expect(view.instances.reduce((sum, i) => sum + i.keyShare, 0)).toBeCloseTo(1, 9);
    for (const i of view.instances) expect(i.keyShare).toBeGreaterThan(0.2);
  });
});
