import { describe, expect, it } from 'vitest';
import { PeriodicTask } from './periodic-task.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PeriodicTask', () => {
  it('never overlaps passes, and stop waits for the one in flight', async () => {
    let active = 0;
    let maxActive = 0;
    let passes = 0;
    const task = new PeriodicTask(5, async () => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      await sleep(30);
      passes += 1;
      active -= 1;
    });
    task.start({ immediately: true });
    await sleep(80);
    await task.stop();
    expect(maxActive).toBe(1);
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(active).toBe(0);
    const after = passes;
    await sleep(30);
    expect(passes).toBe(after);
  });

  it('runs nothing on a timer with interval 0, and survives a failing pass', async () => {
    let calls = 0;
    const task = new PeriodicTask(0, async () => {
      calls += 1;
      throw new Error('boom');
    });
    task.start({ immediately: true });
    await sleep(20);
    await task.stop();
    expect(calls).toBe(1);
  });
});
