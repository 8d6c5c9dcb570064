/**
 * Time and randomness are inputs (STYLE.md): every resilience component takes a Clock and a Random, so
 * tests drive time by hand with {@link FakeClock} and draw jitter from a seeded source.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds; only differences are meaningful. */
  nowMs(): number;
  /** Calls `callback` once after `delayMs` unless cancelled first. */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
}

/** A float in [0, 1). */
export type Random = () => number;

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  setTimer(delayMs, callback) {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(timer) };
  },
};

// The one place Math.random is used: the production default for jitter. Tests inject a seeded source.
export const systemRandom: Random = () => Math.random();

/** Resolves after `delayMs` on `clock`; rejects with the signal's reason if it aborts first. */
export function sleep(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      reject(abortReason(signal!));
    };
    const timer = clock.setTimer(delayMs, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error('aborted');
}

interface PendingTimer {
  readonly dueMs: number;
  readonly sequence: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told. Timers fire in due order (ties in creation order). `advance` is
 * async and lets promise callbacks run between timers, so code that awaits and then sets the next timer
 * (a retry loop, a health-check round) behaves as it would with real time.
 */
export class FakeClock implements Clock {
  private now: number;
  private sequence = 0;
  private timers: PendingTimer[] = [];

  constructor(startMs = 0) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: PendingTimer = {
      dueMs: this.now + Math.max(0, delayMs),
      sequence: this.sequence++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Timers not yet fired nor cancelled. */
  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const targetMs = this.now + ms;
    await flushMicrotasks();
    for (;;) {
      const next = this.nextDue(targetMs);
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.now = next.dueMs;
      next.callback();
      await flushMicrotasks();
    }
    this.now = targetMs;
    await flushMicrotasks();
  }

  private nextDue(limitMs: number): PendingTimer | undefined {
    this.timers = this.timers.filter((t) => !t.cancelled);
    let best: PendingTimer | undefined;
    for (const t of this.timers) {
      if (t.dueMs > limitMs) continue;
      if (!best || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.sequence < best.sequence)) best = t;
    }
    return best;
  }
}

/** Lets every queued promise callback run: a macrotask turn drains the whole microtask queue. */
function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
