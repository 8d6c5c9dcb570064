import { type Random, systemRandom } from './clock.js';
import { jittered, type BreakerState } from './breaker-registry.js';

/**
 * A circuit breaker as plain state, for hot paths: no promise, event emitter, timer or closure per call. The
 * caller asks {@link allow} before a call and reports it with {@link record}; time is passed in (milliseconds),
 * so the rolling window rotates lazily and tests run on a fake clock. Only state changes call `onChange`.
 *
 * Same rules as the opossum breakers of {@link BreakerRegistry}: opens when, in the rolling window, at least
 * `volumeThreshold` calls were seen and at least `errorThresholdPercentage` of them failed; stays open for the
 * (jittered) reset time; then half-open admits one trial call, whose success closes it and failure reopens it.
 * Health-driven: while open, a passing active check (after the reset time) closes it, so no user request
 * is the probe; without checks the half-open trial takes over after `healthFallbackResetMs`.
 */
export interface CallBreakerSettings {
  readonly errorThresholdPercentage: number;
  readonly volumeThreshold: number;
  readonly rollingWindowMs: number;
  readonly rollingBuckets: number;
  readonly resetTimeoutMs: number;
  readonly resetJitterRatio: number;
  readonly healthDriven: boolean;
  readonly healthFallbackResetMs: number;
}

export interface CallBreakerChange {
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly reason: 'calls' | 'health' | 'timer';
}

export class CallBreaker {
  private stateValue: BreakerState = 'closed';
  private readonly successes: Float64Array;
  private readonly failures: Float64Array;
  private readonly bucketMs: number;
  private currentBucket: number;
  private openedAtMs = 0;
  private openForMs = 0;
  private trialInFlight = false;

  constructor(
    private readonly settings: CallBreakerSettings,
    nowMs: number,
    private readonly onChange: (change: CallBreakerChange) => void = () => undefined,
    private readonly random: Random = systemRandom,
  ) {
    this.successes = new Float64Array(settings.rollingBuckets);
    this.failures = new Float64Array(settings.rollingBuckets);
    this.bucketMs = settings.rollingWindowMs / settings.rollingBuckets;
    this.currentBucket = Math.floor(nowMs / this.bucketMs);
  }

  get state(): BreakerState {
    return this.stateValue;
  }

  /**
   * Whether a call may go now. An open breaker whose wait is over turns half-open here (lazily) and admits
   * exactly one trial; `take` false only asks (for routing decisions), `take` true claims the trial.
   */
  allow(nowMs: number, take = true): boolean {
    if (this.stateValue === 'closed') return true;
    if (this.stateValue === 'open') {
      const waitMs = this.settings.healthDriven ? this.settings.healthFallbackResetMs : this.openForMs;
      if (nowMs - this.openedAtMs < waitMs) return false;
      this.transition('halfOpen', 'timer');
    }
    if (this.trialInFlight) return false;
    if (take) this.trialInFlight = true;
    return true;
  }

  /** Reports the outcome of a call `allow` let through (`neutral`: says nothing about the instance). */
  record(failed: boolean, nowMs: number): void {
    if (this.stateValue === 'halfOpen') {
      this.trialInFlight = false;
      if (failed) this.open(nowMs, 'calls');
      else this.close('calls');
      return;
    }
    if (this.stateValue === 'open') return;
    this.rotate(nowMs);
    const slot = this.currentBucket % this.successes.length;
    if (!failed) {
      this.successes[slot]! += 1;
      return;
    }
    this.failures[slot]! += 1;
    const failures = sum(this.failures);
    const total = failures + sum(this.successes);
    if (
      total >= this.settings.volumeThreshold &&
      failures * 100 >= total * this.settings.errorThresholdPercentage
    ) {
      this.open(nowMs, 'calls');
    }
  }

  /** A trial that never happened (the request went elsewhere before reaching the instance). */
  releaseTrial(): void {
    this.trialInFlight = false;
  }

  /**
   * An active health check result. A failed probe opens the breaker at once. A passing one closes a half-open
   * breaker at once, and (health-driven) an open one once it has stayed open for its jittered reset time: the
   * probe stands in for the half-open user request.
   */
  reportHealth(healthy: boolean, nowMs: number): void {
    if (!healthy) {
      if (this.stateValue !== 'open') {
        this.trialInFlight = false;
        this.open(nowMs, 'health');
      }
      return;
    }
    if (this.stateValue === 'closed') return;
    if (
      this.stateValue === 'open' &&
      (!this.settings.healthDriven || nowMs - this.openedAtMs < this.openForMs)
    ) {
      return;
    }
    this.trialInFlight = false;
    this.close('health');
  }

  private open(nowMs: number, reason: CallBreakerChange['reason']): void {
    this.openedAtMs = nowMs;
    this.openForMs = jittered(this.settings.resetTimeoutMs, this.settings.resetJitterRatio, this.random);
    this.transition('open', reason);
  }

  private close(reason: CallBreakerChange['reason']): void {
    this.successes.fill(0);
    this.failures.fill(0);
    this.transition('closed', reason);
  }

  private transition(to: BreakerState, reason: CallBreakerChange['reason']): void {
    const from = this.stateValue;
    if (from === to) return;
    this.stateValue = to;
    this.onChange({ from, to, reason });
  }

  private rotate(nowMs: number): void {
    const bucket = Math.floor(nowMs / this.bucketMs);
    const stale = Math.min(bucket - this.currentBucket, this.successes.length);
    for (let i = 1; i <= stale; i++) {
      const index = (this.currentBucket + i) % this.successes.length;
      this.successes[index] = 0;
      this.failures[index] = 0;
    }
    if (bucket > this.currentBucket) this.currentBucket = bucket;
  }
}

function sum(values: Float64Array): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
