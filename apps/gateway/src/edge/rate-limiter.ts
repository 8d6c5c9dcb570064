/**
 * Token bucket per client: each client may burst `burst` requests, then `ratePerSecond` on average. Pure over
 * an injected time (milliseconds). The table of buckets is bounded: when full, buckets that have refilled
 * completely (idle clients, indistinguishable from new ones) are dropped, and if none has, the oldest entry.
 */
export interface RateDecision {
  readonly allowed: boolean;
  /** When refused: seconds until one token is back (for Retry-After). */
  readonly retryAfterSeconds: number;
}

const ALLOWED: RateDecision = Object.freeze({ allowed: true, retryAfterSeconds: 0 });

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly maxClients = 100_000,
  ) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) throw new RangeError('rate must be > 0 and burst >= 1');
  }

  get clients(): number {
    return this.buckets.size;
  }

  take(client: string, nowMs: number): RateDecision {
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxClients) this.evict(nowMs);
      bucket = { tokens: this.burst, updatedMs: nowMs };
      this.buckets.set(client, bucket);
    } else {
      const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
      bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsedMs * this.ratePerSecond) / 1000);
      bucket.updatedMs = nowMs;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return ALLOWED;
    }
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond)),
    };
  }

  private evict(nowMs: number): void {
    const fullAfterMs = (this.burst / this.ratePerSecond) * 1000;
    for (const [client, bucket] of this.buckets) {
      if (nowMs - bucket.updatedMs >= fullAfterMs) this.buckets.delete(client);
    }
    if (this.buckets.size >= this.maxClients) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
  }
}
