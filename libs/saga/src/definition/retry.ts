/**
 * When to re-send a command that got no answer, and when to stop. Pure: the runtime passes the attempt number,
 * the elapsed time and a random number in [0, 1) from its own source.
 */
export interface RetryPolicy {
  /** Attempts before giving up (each attempt waits `timeoutMs` of its step). `Infinity`: never give up. */
  readonly attemptsMax: number;
  /** Wait before the second attempt; doubled after each further attempt up to `backoffMaxMs`. */
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  /** Fraction of each wait that is randomised away (0: none, 1: "full jitter"), so re-sends do not march. */
  readonly jitterRatio: number;
  /** Time from the step's first attempt after which it is given up. `Infinity`: never. */
  readonly deadlineMs: number;
}

/** Until it succeeds: the policy of steps after the pivot, compensations and phase two of 2PC. */
export const RETRY_FOREVER: RetryPolicy = {
  attemptsMax: Number.POSITIVE_INFINITY,
  backoffInitialMs: 100,
  backoffMaxMs: 2_000,
  jitterRatio: 0.5,
  deadlineMs: Number.POSITIVE_INFINITY,
};

/** Wait after attempt `attempt` (1-based) failed, before the next one. `random01` in [0, 1). */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random01: number): number {
  const exponent = Math.min(Math.max(attempt - 1, 0), 30);
  const base = Math.min(policy.backoffMaxMs, policy.backoffInitialMs * 2 ** exponent);
  return Math.round(base * (1 - policy.jitterRatio * random01));
}

/** True when no further attempt may start: attempts used up, or the deadline reached. */
export function retryExhausted(policy: RetryPolicy, attemptsDone: number, elapsedMs: number): boolean {
  return attemptsDone >= policy.attemptsMax || elapsedMs >= policy.deadlineMs;
}
