import { describe, expect, it } from 'vitest';
import { ActiveHealthChecker } from './active-health-checker.js';
import { FakeClock, sleep } from './clock.js';
import { type HealthChange, HealthTracker } from './health-tracker.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `i${i}`);

function tracker(settings: ConstructorParameters<typeof HealthTracker>[0] = {}) {
  const clock = new FakeClock();
  const health = new HealthTracker(settings, clock);
  const changes: string[] = [];
  health.onChange((c: HealthChange) => changes.push(`${c.id}:${c.kind}`));
  return { clock, health, changes };
}

describe('HealthTracker: active checks', () => {
  it('goes unhealthy after `fall` failures in a row and back after `rise` passes in a row', () => {
    const { health, changes } = tracker({ rise: 2, fall: 3 });
    health.setInstances('orders', ids(4));
    health.recordCheck('orders', 'i0', false);
    health.recordCheck('orders', 'i0', false);
    health.recordCheck('orders', 'i0', true); // streak broken
    health.recordCheck('orders', 'i0', false);
    health.recordCheck('orders', 'i0', false);
    expect(health.isRoutable('orders', 'i0')).toBe(true);
    health.recordCheck('orders', 'i0', false);
    expect(health.isRoutable('orders', 'i0')).toBe(false);
    health.recordCheck('orders', 'i0', true);
    expect(health.isRoutable('orders', 'i0')).toBe(false);
    health.recordCheck('orders', 'i0', true);
    expect(health.isRoutable('orders', 'i0')).toBe(true);
    expect(changes).toEqual(['i0:unhealthy', 'i0:healthy']);
  });

  it('starts new instances healthy unless configured otherwise, and keeps state across membership updates', () => {
    const { health } = tracker({ initiallyHealthy: false, rise: 1 });
    health.setInstances('s', ['a']);
    expect(health.isRoutable('s', 'a')).toBe(false);
    health.recordCheck('s', 'a', true);
    health.setInstances('s', ['a', 'b']);
    expect(health.isRoutable('s', 'a')).toBe(true);
    expect(health.isRoutable('s', 'b')).toBe(false);
    health.setInstances('s', ['b']);
    expect(health.instances('s')).toEqual(['b']);
    health.recordCheck('s', 'gone', true); // unknown instance: ignored
    expect(health.isRoutable('s', 'gone')).toBe(false);
  });
});

describe('HealthTracker: passive outlier ejection', () => {
  it('ejects after consecutive failures for base x times-ejected, then restores', async () => {
    const { clock, health, changes } = tracker({ consecutiveFailuresToEject: 3, baseEjectionMs: 1000 });
    health.setInstances('s', ids(4));
    for (let i = 0; i < 2; i++) health.recordResponse('s', 'i1', true);
    health.recordResponse('s', 'i1', false); // a success resets the count
    for (let i = 0; i < 2; i++) health.recordResponse('s', 'i1', true);
    expect(health.isRoutable('s', 'i1')).toBe(true);
    health.recordResponse('s', 'i1', true);
    expect(health.isRoutable('s', 'i1')).toBe(false);
    await clock.advance(999);
    expect(health.isRoutable('s', 'i1')).toBe(false);
    await clock.advance(1);
    health.tick();
    expect(health.isRoutable('s', 'i1')).toBe(true);
    // Second ejection lasts twice as long.
    for (let i = 0; i < 3; i++) health.recordResponse('s', 'i1', true);
    await clock.advance(1999);
    expect(health.isRoutable('s', 'i1')).toBe(false);
    await clock.advance(1);
    expect(health.isRoutable('s', 'i1')).toBe(true);
    expect(changes).toEqual(['i1:ejected', 'i1:restored', 'i1:ejected', 'i1:restored']);
    expect(health.snapshot('s').find((h) => h.id === 'i1')).toMatchObject({ ejections: 2, ejected: false });
  });

  it('never ejects more than half of a service instances', () => {
    const { health, changes } = tracker({ consecutiveFailuresToEject: 1 });
    health.setInstances('s', ids(5));
    for (const id of ids(5)) health.recordResponse('s', id, true);
    // floor(5 x 50%) = 2 ejected at most; the other three are refused.
    expect(
      health
        .snapshot('s')
        .filter((h) => h.ejected)
        .map((h) => h.id),
    ).toEqual(['i0', 'i1']);
    expect(changes.filter((c) => c.endsWith('ejection-refused'))).toHaveLength(3);
    // A lone instance is never ejected.
    health.setInstances('solo', ['only']);
    health.recordResponse('solo', 'only', true);
    expect(health.isRoutable('solo', 'only')).toBe(true);
  });
});

describe('HealthTracker: panic threshold', () => {
  it('routes to the routable instances while at least half are, and fails open below that', () => {
    const { health } = tracker({ fall: 1 });
    health.setInstances('s', ids(4));
    health.recordCheck('s', 'i0', false);
    health.recordCheck('s', 'i1', false);
    let routing = health.routing('s');
    expect(routing.panic).toBe(false); // 2 of 4 = 50%: not below the threshold
    expect(routing.instances).toEqual(['i2', 'i3']);
    expect(routing.accept('i0')).toBe(false);
    health.recordCheck('s', 'i2', false);
    routing = health.routing('s');
    expect(routing.panic).toBe(true); // 1 of 4: panic, every instance offered
    expect(routing.instances).toEqual(ids(4));
    expect(routing.accept('i0')).toBe(true);
    expect(health.routing('unknown')).toMatchObject({ instances: [], panic: false });
  });
});

describe('ActiveHealthChecker', () => {
  it('probes every instance each interval, times out stuck probes, and feeds tracker and listener', async () => {
    const clock = new FakeClock();
    const health = new HealthTracker({ fall: 2, rise: 1 }, clock);
    health.setInstances('s', ['up', 'down', 'stuck']);
    const results: string[] = [];
    const checker = new ActiveHealthChecker({
      tracker: health,
      clock,
      random: () => 0.5,
      intervalMs: 1000,
      timeoutMs: 100,
      probe: async (_service, id, signal) => {
        if (id === 'stuck') {
          await sleep(clock, 60_000, signal).catch(() => undefined);
          return true;
        }
        if (id === 'down') throw new Error('connection refused');
        return true;
      },
      onResult: (r) => results.push(`${r.id}:${r.passed}`),
    });
    checker.watch('s');
    checker.start();
    await clock.advance(999);
    expect(results).toEqual([]);
    await clock.advance(1 + 100); // first round at 1000 ms; the stuck probe times out at 1100 ms
    expect(results.sort()).toEqual(['down:false', 'stuck:false', 'up:true']);
    await clock.advance(1100); // second round: fall = 2 reached
    expect(health.snapshot('s').map((h) => `${h.id}:${h.healthy}`)).toEqual([
      'up:true',
      'down:false',
      'stuck:false',
    ]);
    // 1 of 3 routable is below the 50% panic threshold: every instance is offered again (fail open).
    expect(health.routing('s')).toMatchObject({ panic: true, instances: ['up', 'down', 'stuck'] });
    await checker.stop();
    const count = results.length;
    await clock.advance(10_000);
    expect(results.length).toBe(count);
    expect(clock.pendingTimers).toBe(0);
  });
});
