import { describe, expect, it } from 'vitest';
import { FakeClock, sleep } from './clock.js';
import { DeadlineExceededError, TryTimeoutError, UpstreamError, retryableFor } from './errors.js';
import { type RetryAttempt, type RetryInfo, retry } from './retry.js';
import { RetryBudget } from './retry-budget.js';
import { seeded, settle } from './test-support.js';

const unavailable = () => new UpstreamError('unavailable', { status: 503 });

describe('retry', () => {
  it('returns the first success, moving on with the attempt number (the next instance)', async () => {
    const clock = new FakeClock();
    const instances = ['a', 'b', 'c'];
    const tried: string[] = [];
    const outcome = settle(
      retry(
        async ({ attempt }) => {
          const instance = instances[attempt - 1]!;
          tried.push(instance);
          if (instance !== 'c') throw unavailable();
          return `served by ${instance}`;
        },
        { clock, random: seeded(1), shouldRetry: retryableFor('GET'), maxAttempts: 3 },
      ),
    );
    await clock.advance(10_000);
    expect(await outcome).toEqual({ ok: true, value: 'served by c' });
    expect(tried).toEqual(['a', 'b', 'c']);
  });

  it('waits with full jitter: uniform in [0, min(max, base x 2^(n-1)))', async () => {
    const clock = new FakeClock();
    const delays: RetryInfo[] = [];
    const draws = [0.5, 0.999, 0.25, 0];
    let draw = 0;
    const outcome = settle(
      retry(
        async () => {
          throw unavailable();
        },
        {
          clock,
          random: () => draws[draw++]!,
          shouldRetry: () => true,
          maxAttempts: 5,
          baseDelayMs: 100,
          maxDelayMs: 300,
          deadlineMs: 60_000,
          onRetry: (info) => delays.push(info),
        },
      ),
    );
    await clock.advance(60_000);
    const result = await outcome;
    expect(result.ok).toBe(false);
    expect(delays.map((d) => d.delayMs)).toEqual([50, 199.8, 75, 0]); // ceilings 100, 200, 300 (capped), 300
    expect(delays.map((d) => d.attempt)).toEqual([1, 2, 3, 4]);
  });

  it('retries only what the predicate allows, and gives up after maxAttempts with the last error', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const nonIdempotent = await settle(
      retry(
        async () => {
          calls++;
          throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
        },
        { clock, shouldRetry: retryableFor('POST') },
      ),
    );
    expect(nonIdempotent.ok).toBe(false);
    expect(calls).toBe(1);

    let tries = 0;
    const exhausted = settle(
      retry(
        async () => {
          tries++;
          throw new UpstreamError(`try ${tries}`, { status: 503 });
        },
        { clock, random: seeded(2), shouldRetry: retryableFor('GET'), maxAttempts: 3 },
      ),
    );
    await clock.advance(10_000);
    expect(await exhausted).toMatchObject({ ok: false, error: { message: 'try 3' } });
    expect(tries).toBe(3);
  });

  it('gives each try its own timeout, aborts its signal, and still tries again within the deadline', async () => {
    const clock = new FakeClock();
    const signals: AbortSignal[] = [];
    const timeouts: number[] = [];
    const outcome = settle(
      retry(
        async ({ attempt, signal, timeoutMs }: RetryAttempt) => {
          signals.push(signal);
          timeouts.push(timeoutMs);
          if (attempt === 1) await sleep(clock, 10_000); // stalls, ignoring its signal
          return attempt;
        },
        {
          clock,
          random: () => 0,
          shouldRetry: retryableFor('GET'),
          perTryTimeoutMs: 200,
          deadlineMs: 1000,
        },
      ),
    );
    await clock.advance(5_000);
    expect(await outcome).toEqual({ ok: true, value: 2 });
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[0]!.reason).toBeInstanceOf(TryTimeoutError);
    expect(timeouts).toEqual([200, 200]);
  });

  it('never lets a try run past the overall deadline', async () => {
    const clock = new FakeClock();
    const timeouts: number[] = [];
    const startedAt: number[] = [];
    const outcome = settle(
      retry(
        async ({ timeoutMs, signal }) => {
          timeouts.push(timeoutMs);
          startedAt.push(clock.nowMs());
          await sleep(clock, 100_000, signal);
        },
        {
          clock,
          random: () => 0,
          shouldRetry: () => true,
          maxAttempts: 10,
          perTryTimeoutMs: 400,
          deadlineMs: 1000,
        },
      ),
    );
    await clock.advance(5_000);
    const result = await outcome;
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toBeInstanceOf(DeadlineExceededError);
    expect(timeouts).toEqual([400, 400, 200]);
    expect(startedAt).toEqual([0, 400, 800]);
  });

  it('stops when the retry budget says no, and records the first try as a request', async () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ clock, minRetriesPerSecond: 0, retryRatio: 0.2 });
    for (let i = 0; i < 9; i++) budget.recordRequest();
    let tries = 0;
    const outcome = settle(
      retry(
        async () => {
          tries++;
          throw unavailable();
        },
        { clock, random: () => 0, shouldRetry: () => true, maxAttempts: 5, budget },
      ),
    );
    await clock.advance(1000);
    expect((await outcome).ok).toBe(false);
    // 10 requests x 0.2 = 2 retries granted, then refused: 3 tries.
    expect(tries).toBe(3);
    expect(budget.usage()).toEqual({ requests: 10, retries: 2 });
  });

  it('stops at once when the caller aborts', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    let tries = 0;
    const outcome = settle(
      retry(
        async ({ signal }) => {
          tries++;
          await sleep(clock, 1000, signal);
        },
        { clock, shouldRetry: () => true, signal: controller.signal },
      ),
    );
    await clock.advance(10);
    controller.abort(new Error('client went away'));
    expect(await outcome).toMatchObject({ ok: false, error: { message: 'client went away' } });
    expect(tries).toBe(1);
  });

  it('turns a synchronous throw into a failed try', async () => {
    const outcome = await settle(
      retry(
        () => {
          throw new Error('sync');
        },
        { clock: new FakeClock() },
      ),
    );
    expect(outcome).toMatchObject({ ok: false, error: { message: 'sync' } });
  });
});
