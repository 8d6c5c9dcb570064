import { type AcceptInstance, type Balancer, hashKey } from './balancer.js';

export const DEFAULT_LOAD_FACTOR = 1.25;

/** What the bounded-load choice reads: each instance's in-flight requests and their total. */
export interface LoadView {
  inFlight(id: string): number;
  readonly totalInFlight: number;
}

/**
 * In-flight request counts per instance. The gateway acquires when it sends a request to an instance and
 * releases when the response ends (or fails), whatever the outcome.
 */
export class InFlightTracker implements LoadView {
  private readonly counts = new Map<string, number>();
  private total = 0;

  get totalInFlight(): number {
    return this.total;
  }

  inFlight(id: string): number {
    return this.counts.get(id) ?? 0;
  }

  acquire(id: string): void {
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    this.total++;
  }

  release(id: string): void {
    const count = this.counts.get(id) ?? 0;
    if (count <= 0) throw new Error(`release without acquire for ${id}`);
    if (count === 1) this.counts.delete(id);
    else this.counts.set(id, count - 1);
    this.total--;
  }

  snapshot(): Map<string, number> {
    return new Map(this.counts);
  }
}

export interface BoundedLookupOptions {
  /** c in the paper: how far above the mean an instance may go (default 1.25; must be >= 1). */
  readonly loadFactor?: number;
  /** Instances that may not take requests (open breaker, ejected) are passed over. */
  readonly accept?: AcceptInstance;
  /**
   * Number of instances that `accept` takes, if the caller already knows it (saves one pass over the
   * members). The bound spreads the load over the instances that can take it, not over all members.
   */
  readonly eligibleCount?: number;
}

export interface BoundedChoice {
  readonly id: string;
  /** ceil(c x (total in-flight + 1) / n) at the time of the choice. */
  readonly bound: number;
  /** Eligible instances passed over because they were at their bound (the "overflow" count). */
  readonly passedOver: number;
  /**
   * True only when every eligible instance was at its bound, which cannot happen with c >= 1 unless
   * loads are counted elsewhere than in the view (then the least loaded eligible instance is chosen).
   */
  readonly overBound: boolean;
}

/** ceil(c x (total + 1) / n): the most in-flight requests an instance may hold after taking one more. */
export function loadBound(
  totalInFlight: number,
  instanceCount: number,
  loadFactor = DEFAULT_LOAD_FACTOR,
): number {
  if (instanceCount <= 0) return 0;
  // The epsilon keeps c x m / n that is mathematically whole (1.25 x 8 / 10) from rounding up a step.
  return Math.ceil((loadFactor * (totalInFlight + 1)) / instanceCount - 1e-9);
}

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, SODA 2018; arXiv 1608.01350,
 * 2016). The key's preferred instance takes the request unless its in-flight count would then exceed
 * ceil(c x (total + 1) / n); otherwise the walk moves on to the next distinct instance in the key's
 * preference order. Keys keep their affinity while their instance has room, and no instance carries
 * more than c times the mean, however skewed the keys are. The paper proves a bin is found after an
 * expected O(1/(c-1)^2) steps.
 */
export function lookupBounded(
  balancer: Balancer,
  key: string,
  loads: LoadView,
  options: BoundedLookupOptions = {},
): BoundedChoice | undefined {
  return lookupBoundedHash(balancer, hashKey(key), loads, options);
}

export function lookupBoundedHash(
  balancer: Balancer,
  keyHash: number,
  loads: LoadView,
  options: BoundedLookupOptions = {},
): BoundedChoice | undefined {
  const loadFactor = options.loadFactor ?? DEFAULT_LOAD_FACTOR;
  if (!(loadFactor >= 1)) throw new RangeError(`loadFactor must be >= 1, got ${loadFactor}`);
  const accept = options.accept;
  const eligible =
    options.eligibleCount ?? (accept ? balancer.members().filter((id) => accept(id)).length : balancer.size);
  if (eligible === 0) return undefined;
  const bound = loadBound(loads.totalInFlight, eligible, loadFactor);

  let passedOver = 0;
  let leastLoaded: string | undefined;
  let leastLoad = Infinity;
  const chosen = balancer.walkHash(keyHash, (id) => {
    if (accept && !accept(id)) return false;
    const load = loads.inFlight(id);
    if (load + 1 <= bound) return true;
    passedOver++;
    if (load < leastLoad) {
      leastLoad = load;
      leastLoaded = id;
    }
    return false;
  });
  if (chosen !== undefined) return { id: chosen, bound, passedOver, overBound: false };
  if (leastLoaded === undefined) return undefined;
  return { id: leastLoaded, bound, passedOver, overBound: true };
}
