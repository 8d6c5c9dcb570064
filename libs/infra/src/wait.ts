import { setTimeout as delay } from 'node:timers/promises';

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Pause between two attempts. Default 50 ms. */
  intervalMs?: number;
  /** Named in the timeout error, e.g. "postgres on port 5432 accepts connections". */
  description?: string;
}

/** Thrown by {@link waitFor} when the deadline passes; carries the last error the predicate threw, if any. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

/**
 * Polls `predicate` until it returns a truthy value (which is returned) or the deadline passes.
 *
 * A predicate that throws counts as "not yet"; the last such error is attached as `cause` of the timeout error, so a
 * test that times out says why. Tests use this instead of sleeping: it returns as soon as the condition holds.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions,
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const intervalMs = options.intervalMs ?? 50;
  const deadlineMs = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
    } catch (error: unknown) {
      lastError = error;
    }
    const remainingMs = deadlineMs - Date.now();
    if (remainingMs <= 0) {
      const what = options.description ?? 'condition';
      throw new WaitTimeoutError(`timed out after ${options.timeoutMs} ms waiting for ${what}`, {
        cause: lastError,
      });
    }
    await delay(Math.min(intervalMs, remainingMs));
  }
}
