import { describe, expect, it } from 'vitest';
import { FakeClock, sleep } from './clock.js';
import { settle } from './test-support.js';

describe('FakeClock', () => {
  it('fires timers in due order, ties in creation order, and only when time reaches them', async () => {
    const clock = new FakeClock(100);
    const fired: string[] = [];
    clock.setTimer(20, () => fired.push('b'));
    clock.setTimer(10, () => fired.push('a'));
    clock.setTimer(20, () => fired.push('c'));
    const cancelled = clock.setTimer(15, () => fired.push('never'));
    cancelled.cancel();
    await clock.advance(19);
    expect(fired).toEqual(['a']);
    expect(clock.nowMs()).toBe(119);
    await clock.advance(1);
    expect(fired).toEqual(['a', 'b', 'c']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('runs timers that callbacks set while advancing, at their own due time', async () => {
    const clock = new FakeClock();
    const times: number[] = [];
    const chain = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await sleep(clock, 10);
        times.push(clock.nowMs());
      }
    };
    const done = chain();
    await clock.advance(100);
    await done;
    expect(times).toEqual([10, 20, 30]);
  });

  it('sleep rejects when its signal aborts, and at once if already aborted', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    const pending = settle(sleep(clock, 1000, controller.signal));
    controller.abort(new Error('stop'));
    const outcome = await pending;
    expect(outcome.ok).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    const again = await settle(sleep(clock, 5, controller.signal));
    expect(again).toMatchObject({ ok: false, error: new Error('stop') });
  });
});
