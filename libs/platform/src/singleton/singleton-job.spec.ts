import { describe, expect, it } from 'vitest';
import { Metrics } from '../metrics/metrics.js';
import { MemoryJobElector } from './memory-job-elector.js';
import { type JobFence, SingletonJob, StaleFencingTokenError } from './singleton-job.js';

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('SingletonJob', () => {
  it('runs passes on one instance at a time; the next takes over with a larger token when the lease expires', async () => {
    const elector = new MemoryJobElector();
    const passes: JobFence[] = [];
    const make = (holder: string) =>
      new SingletonJob({ name: 'sweep', holder, intervalMs: 10, elector, pass: async (f) => passes.push(f) });
    const a = make('a');
    const b = make('b');
    a.start();
    await until(() => passes.length >= 3);
    b.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(new Set(passes.map((p) => p.holder))).toEqual(new Set(['a']));
    expect(b.holding()).toBeNull();

    elector.expire('sweep');
    await until(() => passes.some((p) => p.holder === 'b'));
    const first = passes.find((p) => p.holder === 'b')!;
    expect(first.token).toBeGreaterThan(passes[0]!.token);
    expect(a.holding()?.holder).not.toBe('a');
    await Promise.all([a.stop(), b.stop()]);
  });

  it('ends its term when the database refuses its token, and counts it', async () => {
    const elector = new MemoryJobElector();
    const metrics = new Metrics();
    let seen = 0;
    const job = new SingletonJob({
      name: 'fenced',
      holder: 'a',
      intervalMs: 10,
      elector,
      metrics,
      pass: async (f) => {
        seen++;
        if (f.token === 1) throw new StaleFencingTokenError(f, 'test');
      },
    });
    job.start();
    await until(() => seen >= 2);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/singleton_job_fenced_total\{job="fenced"\} 1/);
    expect(text).toMatch(/singleton_job_fencing_token\{job="fenced"\} 2/);
    expect(text).toMatch(/singleton_job_held\{job="fenced"\} 1/);
    await job.stop();
    expect(await metrics.registry.metrics()).toMatch(/singleton_job_held\{job="fenced"\} 0/);
  });

  it('without a coordinator, runs here alone with token 0', async () => {
    const passes: JobFence[] = [];
    const job = new SingletonJob({
      name: 'solo',
      holder: 'a',
      intervalMs: 10,
      elector: null,
      pass: async (f) => passes.push(f),
    });
    job.start();
    await until(() => passes.length >= 2);
    expect(passes[0]).toEqual({ job: 'solo', holder: 'a', token: 0 });
    await job.stop();
  });
});
