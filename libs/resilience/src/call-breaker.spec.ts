import { describe, expect, it } from 'vitest';
import { CallBreaker, type CallBreakerChange, type CallBreakerSettings } from './call-breaker.js';
import { DEFAULT_BREAKER_SETTINGS } from './breaker-registry.js';
import { FakeClock } from './clock.js';

const settings: CallBreakerSettings = {
  ...DEFAULT_BREAKER_SETTINGS,
  volumeThreshold: 4,
  errorThresholdPercentage: 50,
  resetTimeoutMs: 1_000,
  resetJitterRatio: 0,
  healthDriven: false,
};

function setup(overrides: Partial<CallBreakerSettings> = {}) {
  const clock = new FakeClock(0);
  const changes: string[] = [];
  const breaker = new CallBreaker({ ...settings, ...overrides }, clock.nowMs(), (c: CallBreakerChange) =>
    changes.push(`${c.from}->${c.to}:${c.reason}`),
  );
  return { clock, breaker, changes };
}

describe('CallBreaker', () => {
  it('stays closed below the volume threshold, opens at the error percentage', () => {
    const { breaker, clock, changes } = setup();
    breaker.record(true, clock.nowMs());
    breaker.record(true, clock.nowMs());
    breaker.record(true, clock.nowMs());
    expect(breaker.state).toBe('closed');
    breaker.record(false, clock.nowMs());
    expect(breaker.state).toBe('closed');
    breaker.record(true, clock.nowMs());
    expect(breaker.state).toBe('open');
    expect(breaker.allow(clock.nowMs())).toBe(false);
    expect(changes).toEqual(['closed->open:calls']);
  });

  it('forgets calls that left the rolling window', async () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 3; i++) breaker.record(true, clock.nowMs());
    await clock.advance(11_000);
    for (let i = 0; i < 3; i++) breaker.record(false, clock.nowMs());
    breaker.record(true, clock.nowMs());
    expect(breaker.state).toBe('closed');
  });

  it('half-opens after the reset time with exactly one trial; success closes, failure reopens', async () => {
    const { breaker, clock, changes } = setup();
    for (let i = 0; i < 4; i++) breaker.record(true, clock.nowMs());
    await clock.advance(999);
    expect(breaker.allow(clock.nowMs())).toBe(false);
    await clock.advance(1);
    expect(breaker.allow(clock.nowMs(), false)).toBe(true);
    expect(breaker.allow(clock.nowMs())).toBe(true);
    expect(breaker.allow(clock.nowMs())).toBe(false);
    breaker.record(true, clock.nowMs());
    expect(breaker.state).toBe('open');
    await clock.advance(1_000);
    expect(breaker.allow(clock.nowMs())).toBe(true);
    breaker.record(false, clock.nowMs());
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual([
      'closed->open:calls',
      'open->halfOpen:timer',
      'halfOpen->open:calls',
      'open->halfOpen:timer',
      'halfOpen->closed:calls',
    ]);
  });

  it('gives the trial back when the request never reached the instance', async () => {
    const { breaker, clock } = setup();
    for (let i = 0; i < 4; i++) breaker.record(true, clock.nowMs());
    await clock.advance(1_000);
    expect(breaker.allow(clock.nowMs())).toBe(true);
    breaker.releaseTrial();
    expect(breaker.allow(clock.nowMs())).toBe(true);
  });

  it('health-driven: a failed probe opens at once; a passing one closes only after the reset time', async () => {
    const { breaker, clock, changes } = setup({ healthDriven: true, healthFallbackResetMs: 20_000 });
    breaker.reportHealth(false, clock.nowMs());
    expect(breaker.state).toBe('open');
    await clock.advance(500);
    breaker.reportHealth(true, clock.nowMs());
    expect(breaker.state).toBe('open');
    // No user request is the probe while health checks run.
    await clock.advance(600);
    expect(breaker.allow(clock.nowMs())).toBe(false);
    breaker.reportHealth(true, clock.nowMs());
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual(['closed->open:health', 'open->closed:health']);
  });

  it('health-driven: falls back to a half-open trial when no probe reports', async () => {
    const { breaker, clock } = setup({ healthDriven: true, healthFallbackResetMs: 20_000 });
    for (let i = 0; i < 4; i++) breaker.record(true, clock.nowMs());
    await clock.advance(19_999);
    expect(breaker.allow(clock.nowMs())).toBe(false);
    await clock.advance(1);
    expect(breaker.allow(clock.nowMs())).toBe(true);
    expect(breaker.state).toBe('halfOpen');
  });
});
