import { afterEach, describe, expect, it } from 'vitest';
import { type BreakerStateChange, BreakerRegistry, jittered } from './breaker-registry.js';
import { FakeClock } from './clock.js';
import { UpstreamError, codeOf } from './errors.js';
import { seeded, settle } from './test-support.js';

// These tests run opossum on real timers (its reset timer cannot be injected), with ms-scale settings.
const registries: BreakerRegistry[] = [];
function registry(options: ConstructorParameters<typeof BreakerRegistry>[0] = {}): BreakerRegistry {
  const created = new BreakerRegistry({ bucketRotation: 'manual', random: seeded(5), ...options });
  registries.push(created);
  return created;
}
afterEach(() => {
  for (const r of registries.splice(0)) r.shutdown();
});

const fail =
  (status = 503) =>
  () =>
    Promise.reject(new UpstreamError('upstream failed', { status }));
const succeed = () => Promise.resolve('ok');
const waitFor = async (condition: () => boolean, timeoutMs = 2000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

describe('BreakerRegistry', () => {
  it('opens one breaker per key after enough failures, then fails fast without calling', async () => {
    const breakers = registry({ defaults: { volumeThreshold: 4, resetTimeoutMs: 60_000 } });
    const changes: BreakerStateChange[] = [];
    breakers.onStateChange((c) => changes.push(c));
    for (let i = 0; i < 4; i++) await settle(breakers.fire('instance-1', fail(), 'orders'));
    expect(breakers.state('instance-1')).toBe('open');
    expect(breakers.isAvailable('instance-1')).toBe(false);
    expect(breakers.isAvailable('instance-2')).toBe(true); // never used: no breaker, available
    let called = false;
    const rejected = await settle(
      breakers.fire('instance-1', async () => {
        called = true;
      }),
    );
    expect(called).toBe(false);
    expect(rejected.ok).toBe(false);
    if (!rejected.ok) expect(codeOf(rejected.error)).toBe('EOPENBREAKER');
    expect(changes).toEqual([
      { key: 'instance-1', route: 'orders', from: 'closed', to: 'open', reason: 'calls' },
    ]);
    // Another key's breaker is untouched.
    await expect(breakers.fire('instance-2', succeed)).resolves.toBe('ok');
  });

  it('does not count 4xx answers or bulkhead rejections as failures', async () => {
    const breakers = registry({ defaults: { volumeThreshold: 2, capacity: 1 } });
    for (let i = 0; i < 20; i++) {
      const outcome = await settle(breakers.fire('a', fail(404)));
      expect(outcome.ok).toBe(false); // the caller still sees the 404
    }
    expect(breakers.state('a')).toBe('closed');
    // Capacity 1: while one call is in flight, the others are refused by the bulkhead.
    let release: () => void = () => undefined;
    const inFlight = breakers.fire('a', () => new Promise<void>((resolve) => (release = resolve)));
    const refused = await Promise.all(Array.from({ length: 5 }, () => settle(breakers.fire('a', succeed))));
    expect(refused.every((r) => !r.ok && codeOf(r.error) === 'ESEMLOCKED')).toBe(true);
    release();
    await inFlight;
    expect(breakers.state('a')).toBe('closed');
  });

  it('takes settings per route, on the key first use', () => {
    const breakers = registry({
      defaults: { errorThresholdPercentage: 50 },
      routes: { payments: { errorThresholdPercentage: 20, resetTimeoutMs: 1234 } },
    });
    expect(breakers.settingsFor('payments')).toMatchObject({
      errorThresholdPercentage: 20,
      resetTimeoutMs: 1234,
    });
    expect(breakers.settingsFor('orders').errorThresholdPercentage).toBe(50);
    expect(breakers.settingsFor(undefined).resetTimeoutMs).toBe(5_000);
  });

  it('half-opens after the reset timeout, lets one probe through, and closes on its success', async () => {
    const breakers = registry({ defaults: { volumeThreshold: 1, resetTimeoutMs: 20, resetJitterRatio: 0 } });
    const changes: string[] = [];
    breakers.onStateChange((c) => changes.push(c.to));
    await settle(breakers.fire('a', fail()));
    expect(breakers.state('a')).toBe('open');
    await waitFor(() => breakers.state('a') === 'halfOpen');
    expect(breakers.isAvailable('a')).toBe(true);
    await expect(breakers.fire('a', succeed)).resolves.toBe('ok');
    expect(changes).toEqual(['open', 'halfOpen', 'closed']);
  });

  it('jitters the reset timeout, so breakers opened together do not probe together', async () => {
    // Draws in order: early's first reset, early's opening (open time, next reset), late's first reset.
    const draws = [0, 0.5, 0.5, 0.999];
    let draw = 0;
    const breakers = registry({
      defaults: { volumeThreshold: 1, resetTimeoutMs: 200, resetJitterRatio: 0.5 },
      random: () => draws[draw++] ?? 0.5,
    });
    const halfOpenAt = new Map<string, number>();
    breakers.onStateChange((c) => {
      if (c.to === 'halfOpen') halfOpenAt.set(c.key, performance.now());
    });
    await settle(breakers.fire('early', fail())); // created with draw 0: 100 ms
    await settle(breakers.fire('late', fail())); // created with draw 0.999: about 300 ms
    await waitFor(() => halfOpenAt.size === 2);
    // 200 ms apart nominally; the margin absorbs event-loop delays on a loaded machine.
    expect(halfOpenAt.get('late')! - halfOpenAt.get('early')!).toBeGreaterThan(60);
    expect(jittered(100, 0.2, () => 0)).toBe(80);
    expect(jittered(100, 0.2, () => 0.5)).toBe(100);
    expect(jittered(100, 0, () => 0.9)).toBe(100);
  });

  it('health-driven: a failed check opens, a passing one closes once the jittered reset time has passed', async () => {
    const clock = new FakeClock();
    const breakers = registry({
      clock,
      random: () => 0.5,
      defaults: { healthDriven: true, resetTimeoutMs: 1000, resetJitterRatio: 0.2 },
    });
    const changes: BreakerStateChange[] = [];
    breakers.onStateChange((c) => changes.push(c));
    breakers.reportHealth('unknown', false); // no breaker yet: nothing to do
    await breakers.fire('a', succeed);
    breakers.reportHealth('a', false);
    expect(breakers.state('a')).toBe('open');
    await clock.advance(500);
    breakers.reportHealth('a', true);
    expect(breakers.state('a')).toBe('open'); // too early: opened 500 ms ago, must stay 1000
    await clock.advance(500);
    breakers.reportHealth('a', true);
    expect(breakers.state('a')).toBe('closed');
    expect(changes.map((c) => `${c.to}:${c.reason}`)).toEqual(['open:health', 'closed:health']);
  });

  it('not health-driven: a passing check leaves the probing to opossum, but closes a half-open breaker', async () => {
    const breakers = registry({ defaults: { volumeThreshold: 1, resetTimeoutMs: 20, resetJitterRatio: 0 } });
    await settle(breakers.fire('a', fail()));
    breakers.reportHealth('a', true);
    expect(breakers.state('a')).toBe('open');
    await waitFor(() => breakers.state('a') === 'halfOpen');
    breakers.reportHealth('a', true);
    expect(breakers.state('a')).toBe('closed');
  });

  it('rolls its window from the shared rotation: old failures are forgotten', async () => {
    const breakers = registry({
      defaults: { volumeThreshold: 4, rollingWindowMs: 1000, rollingBuckets: 2, resetTimeoutMs: 60_000 },
    });
    for (let i = 0; i < 3; i++) await settle(breakers.fire('a', fail()));
    breakers.rotateBuckets();
    breakers.rotateBuckets(); // both buckets rotated out: the three failures are gone
    await settle(breakers.fire('a', fail()));
    expect(breakers.state('a')).toBe('closed');
    for (let i = 0; i < 3; i++) await settle(breakers.fire('a', fail()));
    expect(breakers.state('a')).toBe('open');
  });

  it('forgets deleted keys and stops everything on shutdown', async () => {
    const breakers = registry();
    await breakers.fire('a', succeed);
    await breakers.fire('b', succeed);
    expect(breakers.keys().sort()).toEqual(['a', 'b']);
    expect(breakers.delete('a')).toBe(true);
    expect(breakers.delete('a')).toBe(false);
    expect([...breakers.states()]).toEqual([['b', 'closed']]);
    breakers.shutdown();
    expect(breakers.keys()).toEqual([]);
  });
});
