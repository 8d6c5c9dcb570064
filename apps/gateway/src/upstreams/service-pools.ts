import {
  type Balancer,
  type BalancerAlgorithm,
  createBalancer,
  InFlightTracker,
  lookupBoundedHash,
} from '@concord/hashring';
import type { BreakerRegistry, HealthTracker } from '@concord/resilience';
import type { UpstreamInstance } from './static-upstreams.js';

export interface PoolChoice {
  readonly instance: UpstreamInstance;
  /** Instances passed over because they were at their bounded-load limit. */
  readonly passedOver: number;
  /** True when the service was in panic (too few routable instances; routing to all). */
  readonly panic: boolean;
}

interface ServicePool {
  readonly balancer: Balancer;
  readonly instances: Map<string, UpstreamInstance>;
  readonly loads: InFlightTracker;
}

export interface ServicePoolsOptions {
  readonly algorithm: BalancerAlgorithm;
  readonly loadFactor: number;
  readonly health: HealthTracker;
  readonly breakers: BreakerRegistry;
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
    readonly breaker: string;
  }[];
}

const SHARE_SAMPLES = 4096;

/** Breakers are keyed by service and instance: two services may reuse an instance id. */
export function breakerKey(service: string, id: string): string {
  return `${service}/${id}`;
}

/**
 * Every service's balancer, in-flight counts and the choice of an instance for a request: the key's
 * preference order (ring walk, Maglev or rendezvous), passing over instances that are unhealthy or
 * ejected (unless the service is in panic), whose breaker is open, that this request already tried, or
 * that are at their bounded-load limit. Synchronous and free of I/O: the proxy owns the sockets.
 */
export class ServicePools {
  private readonly pools = new Map<string, ServicePool>();

  constructor(private readonly options: ServicePoolsOptions) {}

  services(): string[] {
    return [...this.pools.keys()].sort();
  }

  /** Applies a service's new membership: only the difference touches the balancer. */
  setInstances(
    service: string,
    instances: readonly UpstreamInstance[],
  ): { added: string[]; removed: string[] } {
    let pool = this.pools.get(service);
    if (!pool) {
      pool = {
        balancer: createBalancer({ algorithm: this.options.algorithm }),
        instances: new Map(),
        loads: new InFlightTracker(),
      };
      this.pools.set(service, pool);
    }
    const next = new Map(instances.map((i) => [i.id, i]));
    const removed = [...pool.instances.keys()].filter((id) => !next.has(id));
    const added = instances.filter((i) => !pool.instances.has(i.id)).map((i) => i.id);
    for (const id of removed) {
      pool.balancer.remove(id);
      pool.instances.delete(id);
      this.options.breakers.delete(breakerKey(service, id));
    }
    for (const instance of instances) {
      if (pool.balancer.weightOf(instance.id) !== instance.weight)
        pool.balancer.add(instance.id, instance.weight);
      pool.instances.set(instance.id, instance);
    }
    this.options.health.setInstances(service, [...next.keys()]);
    return { added, removed };
  }

  instances(service: string): UpstreamInstance[] {
    return [...(this.pools.get(service)?.instances.values() ?? [])];
  }

  size(service: string): number {
    return this.pools.get(service)?.balancer.size ?? 0;
  }

  /**
   * The instance for a request whose key hashes to `keyHash`, or undefined when none may take it.
   * `tried` holds instances earlier tries of the same request used (a retry goes to the next distinct one).
   */
  choose(service: string, keyHash: number, tried: ReadonlySet<string>): PoolChoice | undefined {
    const pool = this.pools.get(service);
    if (!pool || pool.balancer.size === 0) return undefined;
    const routing = this.options.health.routing(service);
    const breakers = this.options.breakers;
    const accept = (id: string): boolean =>
      !tried.has(id) && routing.accept(id) && breakers.isAvailable(breakerKey(service, id));
    const choice = lookupBoundedHash(pool.balancer, keyHash, pool.loads, {
      loadFactor: this.options.loadFactor,
      accept,
    });
    if (!choice) return undefined;
    const instance = pool.instances.get(choice.id);
    return instance && { instance, passedOver: choice.passedOver, panic: routing.panic };
  }

  /** Counts a request in flight on an instance; call `release` with the same arguments when it ends. */
  acquire(service: string, id: string): void {
    this.pools.get(service)?.loads.acquire(id);
  }

  release(service: string, id: string): void {
    const loads = this.pools.get(service)?.loads;
    if (loads && loads.inFlight(id) > 0) loads.release(id);
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
        const instance = pool.instances.get(id);
        const h = health.get(id);
        return {
          id,
          url: instance?.url ?? '',
          weight: instance?.weight ?? 1,
          zone: instance?.zone,
          keyShare: (shares.get(id) ?? 0) / SHARE_SAMPLES,
          inFlight: pool.loads.inFlight(id),
          healthy: h?.healthy ?? false,
          ejected: h?.ejected ?? false,
          breaker: this.options.breakers.state(breakerKey(service, id)) ?? 'closed',
        };
      }),
    };
  }
}
