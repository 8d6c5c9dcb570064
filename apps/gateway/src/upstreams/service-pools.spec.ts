import { hashKey } from '@concord/hashring';
import { BreakerRegistry, HealthTracker } from '@concord/resilience';
import { afterEach, describe, expect, it } from 'vitest';
import { breakerKey, ServicePools } from './service-pools.js';
import type { UpstreamInstance } from './static-upstreams.js';

const instances = (n: number): UpstreamInstance[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `o${i}`,
    url: `http://127.0.0.1:${9000 + i}`,
    weight: 1,
    zone: undefined,
  }));
const keys = Array.from({ length: 2_000 }, (_, i) => `key-${i}`);
const none = new Set<string>();

let breakers: BreakerRegistry;
afterEach(() => breakers.shutdown());

function setup(algorithm: 'ring' | 'maglev' | 'rendezvous' = 'ring') {
  breakers = new BreakerRegistry({ bucketRotation: 'manual' });
  const health = new HealthTracker({ consecutiveFailuresToEject: 2 });
  const pools = new ServicePools({ algorithm, loadFactor: 1.25, health, breakers });
  pools.setInstances('orders', instances(3));
  const owners = () => new Map(keys.map((k) => [k, pools.choose('orders', hashKey(k), none)?.instance.id]));
  return { pools, health, owners };
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

  it('passes over an instance whose breaker is open, and over instances already tried', async () => {
    const { pools } = setup();
    const key = hashKey('k');
    const first = pools.choose('orders', key, none)!.instance.id;
    await breakers.fire(breakerKey('orders', first), async () => undefined, 'orders');
    breakers.reportHealth(breakerKey('orders', first), false);
    const second = pools.choose('orders', key, none)!.instance.id;
    expect(second).not.toBe(first);
    const third = pools.choose('orders', key, new Set([second]))!.instance.id;
    expect(new Set([first, second, third]).size).toBe(3);
    expect(pools.choose('orders', key, new Set(['o0', 'o1', 'o2']))).toBeUndefined();
  });

  it('moves a key off its instance when that one is at its bounded-load limit', () => {
    const { pools } = setup();
    const key = hashKey('hot');
    const preferred = pools.choose('orders', key, none)!.instance.id;
    // 3 in flight on the preferred one: bound = ceil(1.25 x 4 / 3) = 2, so it is passed over.
    for (let i = 0; i < 3; i++) pools.acquire('orders', preferred);
    const choice = pools.choose('orders', key, none)!;
    expect(choice.instance.id).not.toBe(preferred);
    expect(choice.passedOver).toBe(1);
    for (let i = 0; i < 3; i++) pools.release('orders', preferred);
    expect(pools.choose('orders', key, none)!.instance.id).toBe(preferred);
  });

  it('has nothing for an unknown or empty service', () => {
    const { pools } = setup();
    expect(pools.choose('nope', 1, none)).toBeUndefined();
    pools.setInstances('orders', []);
    expect(pools.choose('orders', 1, none)).toBeUndefined();
  });

  it('shows key shares that add up to one', () => {
    const { pools } = setup();
    const view = pools.view('orders')!;
    expect(view.instances.map((i) => i.id)).toEqual(['o0', 'o1', 'o2']);
    expect(view.instances.reduce((sum, i) => sum + i.keyShare, 0)).toBeCloseTo(1, 9);
    for (const i of view.instances) expect(i.keyShare).toBeGreaterThan(0.2);
  });
});
