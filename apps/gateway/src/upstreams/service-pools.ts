import {
  type Balancer,
  type BalancerAlgorithm,
  createBalancer,
  InFlightTracker,
  lookupBoundedHash,
} from '@concord/hashring';
import {
  type BreakerState,
  CallBreaker,
  type CallBreakerChange,
  type CallBreakerSettings,
  type Clock,
  type HealthTracker,
  RetryBudget,
} from '@concord/resilience';
import type { UpstreamInstance } from './static-upstreams.js';

/**
 * One upstream instance as the request path sees it: where it is, its breaker and its connection pool
 * (opaque here: the proxy's client). Created when the instance joins, dropped when it leaves.
 */
export interface InstanceSlot<P = unknown> {
  readonly service: string;
  readonly instance: UpstreamInstance;
  readonly breaker: CallBreaker;
  readonly client: P;
  /** Healthy and not ejected (or the service is in panic): refreshed when health changes. */
  routable: boolean;
}

/** One service: balancer, instances, loads, retry budget, and the routing snapshot. */
export interface ServicePool<P = unknown> {
  readonly service: string;
  readonly balancer: Balancer;
  readonly slots: Map<string, InstanceSlot<P>>;
  readonly loads: InFlightTracker;
  readonly budget: RetryBudget;
  panic: boolean;
  /** Routable instances whose breaker is not open, for the bounded-load bound. */
  eligible: number;
  /** Health or a breaker changed: the snapshot is refreshed before the next choice. */
  stale: boolean;
}

export interface PoolChoice<P = unknown> {
  readonly slot: InstanceSlot<P>;
  /** Instances passed over because they were at their bounded-load limit. */
  readonly passedOver: number;
  /** True when the service was in panic (too few routable instances; routing to all). */
  readonly panic: boolean;
}

export interface ServicePoolsOptions<P> {
  readonly algorithm: BalancerAlgorithm;
  readonly loadFactor: number;
  readonly health: HealthTracker;
  readonly clock: Clock;
  readonly breakerSettings: (service: string) => CallBreakerSettings;
  readonly budget: { readonly retryRatio: number; readonly minRetriesPerSecond: number };
  /** Opens the client (connection pool) of a new instance, and closes one that left or moved. */
  readonly openClient: (instance: UpstreamInstance) => P;
  readonly closeClient: (client: P) => void;
  readonly onBreakerChange?: (service: string, id: string, change: CallBreakerChange) => void;
}

/** What the admin endpoint shows for one service. */
export interface ServiceView {
  readonly service: string;
  readonly algorithm: BalancerAlgorithm;
  readonly panic: boolean;
  readonly instances: readonly {
    readonly id: string;
    readonly url: string;
    readonly weight: number;
    readonly zone: string | undefined;
    /** Share of the key space this instance is preferred for (sampled). */
    readonly keyShare: number;
    readonly inFlight: number;
    readonly healthy: boolean;
    readonly ejected: boolean;
    readonly breaker: BreakerState;
  }[];
}

const SHARE_SAMPLES = 4096;

/**
 * Every service's balancer and the choice of an instance for a request: the key's preference order (ring
 * walk, Maglev or rendezvous), passing over instances that are unhealthy or ejected (unless the service is in
 * panic), whose breaker is open, that this request already tried, or that are at their bounded-load limit.
 *
 * Per change, not per request (Envoy's host-set snapshot): which instances are routable, whether the service
 * is in panic and how many may take requests are recomputed only after membership, health or a breaker
 * changed. A choice hashes, walks and reads flags; it allocates nothing but its result.
 */
export class ServicePools<P = unknown> {
  private readonly pools = new Map<string, ServicePool<P>>();
  // The walk's filter, reused by every choice (choices are synchronous, so one set of fields suffices).
  private walkPool: ServicePool<P> | undefined;
  private walkTried: readonly string[] | undefined;
  private walkNowMs = 0;
  private readonly accept = (id: string): boolean => {
    const slot = this.walkPool!.slots.get(id);
    if (slot === undefined || !slot.routable) return false;
    if (this.walkTried !== undefined && this.walkTried.includes(id)) return false;
    return slot.breaker.allow(this.walkNowMs, false);
  };

  constructor(private readonly options: ServicePoolsOptions<P>) {}

  services(): string[] {
    return [...this.pools.keys()].sort();
  }

  pool(service: string): ServicePool<P> | undefined {
    return this.pools.get(service);
  }

  /** Applies a service's new membership: only the difference touches the balancer. */
  setInstances(
    service: string,
    instances: readonly UpstreamInstance[],
  ): { added: string[]; removed: string[] } {
    let pool = this.pools.get(service);
    if (!pool) {
      if (instances.length === 0) return { added: [], removed: [] };
      pool = {
        service,
        balancer: createBalancer({ algorithm: this.options.algorithm }),
        slots: new Map(),
        loads: new InFlightTracker(),
        budget: new RetryBudget({ ...this.options.budget, clock: this.options.clock }),
        panic: false,
        eligible: 0,
        stale: true,
      };
      this.pools.set(service, pool);
    }
    const next = new Map(instances.map((i) => [i.id, i]));
    const removed = [...pool.slots.keys()].filter((id) => !next.has(id));
    const added = instances.filter((i) => !pool.slots.has(i.id)).map((i) => i.id);
    for (const id of removed) {
      pool.balancer.remove(id);
      this.options.closeClient(pool.slots.get(id)!.client);
      pool.slots.delete(id);
    }
    for (const instance of instances) {
      if (pool.balancer.weightOf(instance.id) !== instance.weight)
        pool.balancer.add(instance.id, instance.weight);
      const existing = pool.slots.get(instance.id);
      if (existing && existing.instance.url === instance.url) {
        pool.slots.set(instance.id, { ...existing, instance });
        continue;
      }
      if (existing) this.options.closeClient(existing.client);
      const id = instance.id;
      const owner = pool;
      pool.slots.set(id, {
        service,
        instance,
        breaker: new CallBreaker(
          this.options.breakerSettings(service),
          this.options.clock.nowMs(),
          (change) => {
            owner.stale = true;
            this.options.onBreakerChange?.(service, id, change);
          },
        ),
        client: this.options.openClient(instance),
        routable: true,
      });
    }
    this.options.health.setInstances(service, [...next.keys()]);
    pool.stale = true;
    if (instances.length === 0) this.pools.delete(service);
    return { added, removed };
  }

  /** Health changed somewhere in `service`: refresh its snapshot before the next choice. */
  invalidate(service: string): void {
    const pool = this.pools.get(service);
    if (pool) pool.stale = true;
  }

  instances(service: string): UpstreamInstance[] {
    return [...(this.pools.get(service)?.slots.values() ?? [])].map((s) => s.instance);
  }

  slot(service: string, id: string): InstanceSlot<P> | undefined {
    return this.pools.get(service)?.slots.get(id);
  }

  size(service: string): number {
    return this.pools.get(service)?.balancer.size ?? 0;
  }

  /**
   * The instance for a request whose key hashes to `keyHash`, or undefined when none may take it. `tried`
   * holds the instances earlier tries of the same request used (a retry goes to the next distinct one).
   * A half-open breaker's single trial is claimed for the chosen instance (unless `claim` is false: a peek).
   */
  choose(
    pool: ServicePool<P>,
    keyHash: number,
    tried: readonly string[] | undefined,
    claim = true,
  ): PoolChoice<P> | undefined {
    const nowMs = this.options.clock.nowMs();
    if (pool.stale) this.refresh(pool, nowMs);
    if (pool.eligible === 0) return undefined;
    this.walkPool = pool;
    this.walkTried = tried;
    this.walkNowMs = nowMs;
    const choice = lookupBoundedHash(pool.balancer, keyHash, pool.loads, {
      loadFactor: this.options.loadFactor,
      accept: this.accept,
      eligibleCount: pool.eligible,
    });
    this.walkPool = undefined;
    this.walkTried = undefined;
    if (!choice) return undefined;
    const slot = pool.slots.get(choice.id)!;
    if (claim && !slot.breaker.allow(nowMs, true)) return undefined;
    return { slot, passedOver: choice.passedOver, panic: pool.panic };
  }

  /** For tests and the admin view: choose by service name. */
  chooseFor(
    service: string,
    keyHash: number,
    tried?: readonly string[],
    claim = true,
  ): PoolChoice<P> | undefined {
    const pool = this.pools.get(service);
    return pool && this.choose(pool, keyHash, tried, claim);
  }

  private refresh(pool: ServicePool<P>, nowMs: number): void {
    pool.stale = false;
    const routing = this.options.health.routing(pool.service);
    pool.panic = routing.panic;
    let eligible = 0;
    for (const slot of pool.slots.values()) {
      slot.routable = routing.accept(slot.instance.id);
      if (slot.routable && slot.breaker.allow(nowMs, false)) eligible++;
    }
    pool.eligible = eligible;
  }

  view(service: string): ServiceView | undefined {
    const pool = this.pools.get(service);
    if (!pool) return undefined;
    const shares = new Map<string, number>();
    // Evenly spaced hashes approximate each member's share of the 32-bit key space.
    const step = Math.floor(0x1_0000_0000 / SHARE_SAMPLES);
    for (let i = 0; i < SHARE_SAMPLES; i++) {
      const id = pool.balancer.lookupHash((i * step) >>> 0);
      if (id !== undefined) shares.set(id, (shares.get(id) ?? 0) + 1);
    }
    const health = new Map(this.options.health.snapshot(service).map((h) => [h.id, h]));
    return {
      service,
      algorithm: pool.balancer.algorithm,
      panic: this.options.health.routing(service).panic,
      instances: pool.balancer.members().map((id) => {
        const slot = pool.slots.get(id);
        const h = health.get(id);
        return {
          id,
          url: slot?.instance.url ?? '',
          weight: slot?.instance.weight ?? 1,
          zone: slot?.instance.zone,
          keyShare: (shares.get(id) ?? 0) / SHARE_SAMPLES,
          inFlight: pool.loads.inFlight(id),
          healthy: h?.healthy ?? false,
          ejected: h?.ejected ?? false,
          breaker: slot?.breaker.state ?? 'closed',
        };
      }),
    };
  }

  close(): void {
    for (const pool of this.pools.values())
      for (const slot of pool.slots.values()) this.options.closeClient(slot.client);
    this.pools.clear();
  }
}
