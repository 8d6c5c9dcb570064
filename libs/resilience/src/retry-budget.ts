import { type Clock, systemClock } from './clock.js';

export interface RetryBudgetOptions {
  /** Retries allowed as a fraction of requests in the window (default 0.2: at most 20% extra load). */
  readonly retryRatio?: number;
  /** Retries always allowed per second, so a quiet service can still retry (default 3). */
  readonly minRetriesPerSecond?: number;
  /** Sliding window (default 10 s), counted in `buckets` slices (default 10). */
  readonly windowMs?: number;
  readonly buckets?: number;
  readonly clock?: Clock;
}

/**
 * A retry budget (Finagle's RetryBudget, gRPC's retry throttling, Envoy's retry_budget): retries may add
 * at most `retryRatio` of the requests seen in the last window, but never fewer than
 * `minRetriesPerSecond x window`. Per-request attempt limits alone multiply load during an outage (three
 * tries per request triples it exactly when the upstream is weakest); a budget caps the total.
 *
 * Counts live in a ring of time buckets rotated lazily on each call: no timer, O(buckets) at worst.
 */
export class RetryBudget {
  readonly retryRatio: number;
  readonly minRetriesPerSecond: number;
  readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly clock: Clock;
  private readonly requests: Float64Array;
  private readonly retries: Float64Array;
  /** Index (time / bucketMs) of the newest bucket. */
  private currentBucket: number;

  constructor(options: RetryBudgetOptions = {}) {
    this.retryRatio = options.retryRatio ?? 0.2;
    this.minRetriesPerSecond = options.minRetriesPerSecond ?? 3;
    this.windowMs = options.windowMs ?? 10_000;
    const buckets = options.buckets ?? 10;
    if (!(this.retryRatio >= 0) || !(this.minRetriesPerSecond >= 0))
      throw new RangeError('budget must be >= 0');
    if (!Number.isInteger(buckets) || buckets < 1 || !(this.windowMs > 0)) {
      throw new RangeError('windowMs must be > 0 and buckets an integer >= 1');
    }
    this.bucketMs = this.windowMs / buckets;
    this.clock = options.clock ?? systemClock;
    this.requests = new Float64Array(buckets);
    this.retries = new Float64Array(buckets);
    this.currentBucket = Math.floor(this.clock.nowMs() / this.bucketMs);
  }

  /** Counts an original request (not a retry). */
  recordRequest(): void {
    this.rotate();
    this.requests[this.slot()]! += 1;
  }

  /** Takes one retry from the budget if there is room; false means do not retry. */
  tryAcquireRetry(): boolean {
    if (this.available() < 1) return false;
    this.retries[this.slot()]! += 1;
    return true;
  }

  /** Retries still allowed in the current window. */
  available(): number {
    this.rotate();
    const requests = sum(this.requests);
    const retries = sum(this.retries);
    const allowed = Math.max(this.retryRatio * requests, (this.minRetriesPerSecond * this.windowMs) / 1000);
    return Math.max(0, Math.floor(allowed - retries));
  }

  /** Requests and retries in the window (for metrics). */
  usage(): { readonly requests: number; readonly retries: number } {
    this.rotate();
    return { requests: sum(this.requests), retries: sum(this.retries) };
  }

  private slot(): number {
    return this.currentBucket % this.requests.length;
  }

  private rotate(): void {
    const bucket = Math.floor(this.clock.nowMs() / this.bucketMs);
    const stale = Math.min(bucket - this.currentBucket, this.requests.length);
    for (let i = 1; i <= stale; i++) {
      const index = (this.currentBucket + i) % this.requests.length;
      this.requests[index] = 0;
      this.retries[index] = 0;
    }
    if (bucket > this.currentBucket) this.currentBucket = bucket;
  }
}

function sum(values: Float64Array): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}
