import { type Clock, type Random, sleep, systemClock, systemRandom } from './clock.js';
import { DeadlineExceededError, TryTimeoutError } from './errors.js';
import type { RetryBudget } from './retry-budget.js';

export interface RetryAttempt {
  /** 1 for the first try. */
  readonly attempt: number;
  /** Aborted when this try's timeout or the overall deadline passes, or the caller aborts. */
  readonly signal: AbortSignal;
  /** This try's own timeout (never beyond what is left of the deadline). */
  readonly timeoutMs: number;
}

export interface RetryInfo {
  readonly attempt: number;
  readonly error: unknown;
  readonly delayMs: number;
}

export interface RetryOptions {
  /** Tries in all, the first included (default 3). */
  readonly maxAttempts?: number;
  /** Overall deadline for every try and wait together (default 10,000 ms). */
  readonly deadlineMs?: number;
  /** Each try's timeout, capped by what is left of the deadline (default: the deadline). */
  readonly perTryTimeoutMs?: number;
  /** Backoff: the n-th retry waits uniform(0, min(maxDelayMs, baseDelayMs x 2^(n-1))) ("full jitter"). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Which failures may be retried (see `retryableFor`); default: none. */
  readonly shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Shared budget: the first try records a request, each retry must be granted. */
  readonly budget?: RetryBudget;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  readonly random?: Random;
  /** Told before each retry (for metrics and logs). */
  readonly onRetry?: (info: RetryInfo) => void;
}

/**
 * Runs `operation` until it succeeds, a failure is not retryable, the attempts or the budget run out, or
 * the deadline passes. Backoff uses full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter",
 * 2015): spreading retries uniformly keeps a crowd of clients from retrying in lockstep.
 *
 * The caller chooses the instance for each try from `attempt` (the gateway moves to the next distinct
 * instance on the ring); the try should honour `signal`. A try that ignores it is abandoned at its
 * timeout, its eventual result dropped.
 */
export async function retry<T>(
  operation: (attempt: RetryAttempt) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? systemRandom;
  const maxAttempts = options.maxAttempts ?? 3;
  const deadlineMs = options.deadlineMs ?? 10_000;
  const perTryTimeoutMs = options.perTryTimeoutMs ?? deadlineMs;
  const baseDelayMs = options.baseDelayMs ?? 25;
  const maxDelayMs = options.maxDelayMs ?? 1000;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new RangeError('maxAttempts must be an integer >= 1');
  const startedMs = clock.nowMs();
  const deadlineAtMs = startedMs + deadlineMs;
  options.budget?.recordRequest();

  for (let attempt = 1; ; attempt++) {
    const remainingMs = deadlineAtMs - clock.nowMs();
    if (remainingMs <= 0) throw new DeadlineExceededError(deadlineMs);
    let error: unknown;
    try {
      return await runTry(operation, attempt, Math.min(perTryTimeoutMs, remainingMs), clock, options.signal);
    } catch (caught) {
      error = caught;
    }
    if (options.signal?.aborted) throw error;
    if (attempt >= maxAttempts) throw error;
    if (!(options.shouldRetry?.(error, attempt) ?? false)) throw error;
    const ceilingMs = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    const delayMs = random() * ceilingMs;
    const leftMs = deadlineAtMs - clock.nowMs();
    // Waiting past the deadline only to give up would waste the wait; so would a try with no time.
    if (delayMs >= leftMs) throw new DeadlineExceededError(deadlineMs, error);
    if (options.budget && !options.budget.tryAcquireRetry()) throw error;
    options.onRetry?.({ attempt, error, delayMs });
    if (delayMs > 0) await sleep(clock, delayMs, options.signal);
  }
}

function runTry<T>(
  operation: (attempt: RetryAttempt) => Promise<T>,
  attempt: number,
  timeoutMs: number,
  clock: Clock,
  outer: AbortSignal | undefined,
): Promise<T> {
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener('abort', onOuterAbort, { once: true });

  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const finish = (): void => {
      settled = true;
      timer.cancel();
      outer?.removeEventListener('abort', onOuterAbort);
    };
    const timer = clock.setTimer(timeoutMs, () => {
      if (settled) return;
      finish();
      const timeout = new TryTimeoutError(timeoutMs);
      controller.abort(timeout);
      reject(timeout);
    });
    controller.signal.addEventListener(
      'abort',
      () => {
        if (settled) return;
        finish();
        const reason: unknown = controller.signal.reason;
        reject(reason instanceof Error ? reason : new Error('aborted'));
      },
      { once: true },
    );
    let pending: Promise<T>;
    try {
      pending = operation({ attempt, signal: controller.signal, timeoutMs });
    } catch (error) {
      // Whatever the operation threw is passed on untouched: the retry predicate classifies it.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => {
        if (settled) return;
        finish();
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        finish();
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(error);
      },
    );
  });
}
