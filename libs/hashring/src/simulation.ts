import type { Balancer } from './balancer.js';
import { hashKey } from './balancer.js';
import { InFlightTracker, loadBound, lookupBoundedHash } from './bounded-loads.js';
import { type RandomSource, ZipfSampler } from './zipf.js';

export interface InFlightSimulationConfig {
  readonly balancer: Balancer;
  /** Bounded loads factor c; undefined routes every request to its preferred instance. */
  readonly loadFactor: number | undefined;
  readonly random: RandomSource;
  /** Distinct keys, drawn by Zipf rank (default 10,000). */
  readonly keyCount?: number;
  /** Zipf exponent s (default 1.1). */
  readonly zipfExponent?: number;
  /** Requests in flight in steady state (default 1,000). */
  readonly concurrency?: number;
  /** Requests started (default 100,000). */
  readonly requests?: number;
  /**
   * 'closed': a fixed number of clients, each starting a request when its last one ends, and the request
   * that ends is drawn uniformly among those in flight (what a load test with N connections does).
   * 'open': one arrival per step, exponential durations with mean `concurrency` steps, so the number in
   * flight wanders around `concurrency`.
   */
  readonly mode?: 'closed' | 'open';
  /** Called at each arrival with the chosen instance's load and the total just before it took the request. */
  readonly observe?: (arrival: ArrivalObservation) => void;
}

export interface ArrivalObservation {
  readonly owner: string;
  readonly ownerLoadBefore: number;
  readonly totalBefore: number;
  readonly instanceCount: number;
}

export interface InFlightFigures {
  /** Highest max/mean in-flight seen at any arrival, once in steady state. */
  readonly worstMaxOverMean: number;
  /** max/mean in-flight averaged over the steady-state arrivals. */
  readonly meanMaxOverMean: number;
  /** Arrivals that left their instance above the bound computed for them (0 with bounded loads). */
  readonly boundViolations: number;
  /** Fraction of requests served by the key's preferred instance. */
  readonly affinity: number;
  /** Instances passed over because they were full, per request. */
  readonly passedOverPerRequest: number;
}

/**
 * Deterministic simulation of requests starting and finishing against a balancer, the property test for
 * bounded loads and the workload of the benchmark. Everything is decided by the random source.
 */
export function simulateInFlight(config: InFlightSimulationConfig): InFlightFigures {
  const { balancer, loadFactor, random } = config;
  const keyCount = config.keyCount ?? 10_000;
  const concurrency = config.concurrency ?? 1000;
  const requests = config.requests ?? 100_000;
  const mode = config.mode ?? 'closed';
  const zipf = new ZipfSampler(keyCount, config.zipfExponent ?? 1.1, random);
  const keyHashes = Array.from({ length: keyCount }, (_, rank) => hashKey(`key-${rank}`));
  const members = balancer.members();
  const loads = new InFlightTracker();

  const inFlight: string[] = []; // closed mode: owners of requests in flight
  const endsAt = new Map<number, string[]>(); // open mode: step -> owners finishing then

  let boundViolations = 0;
  let preferred = 0;
  let passedOver = 0;
  let steadyArrivals = 0;
  let worst = 0;
  let sumRatio = 0;

  for (let step = 0; step < requests; step++) {
    if (mode === 'closed') {
      if (inFlight.length >= concurrency) {
        const index = Math.floor(random() * inFlight.length);
        const owner = inFlight[index]!;
        inFlight[index] = inFlight[inFlight.length - 1]!;
        inFlight.pop();
        loads.release(owner);
      }
    } else {
      for (const owner of endsAt.get(step) ?? []) loads.release(owner);
      endsAt.delete(step);
    }

    const keyHash = keyHashes[zipf.next()]!;
    const bound = loadBound(loads.totalInFlight, members.length, loadFactor ?? 1);
    let owner: string;
    if (loadFactor === undefined) {
      owner = balancer.lookupHash(keyHash)!;
    } else {
      const choice = lookupBoundedHash(balancer, keyHash, loads, { loadFactor })!;
      owner = choice.id;
      passedOver += choice.passedOver;
      if (loads.inFlight(owner) + 1 > bound) boundViolations++;
    }
    if (owner === balancer.lookupHash(keyHash)) preferred++;
    config.observe?.({
      owner,
      ownerLoadBefore: loads.inFlight(owner),
      totalBefore: loads.totalInFlight,
      instanceCount: members.length,
    });
    loads.acquire(owner);

    if (mode === 'closed') {
      inFlight.push(owner);
    } else {
      const duration = 1 + Math.floor(-Math.log(1 - random()) * concurrency);
      const list = endsAt.get(step + duration);
      if (list) list.push(owner);
      else endsAt.set(step + duration, [owner]);
    }

    // Steady state: the closed loop is full; the open loop has run for a few mean durations.
    const steady = mode === 'closed' ? loads.totalInFlight >= concurrency : step >= 5 * concurrency;
    if (steady) {
      let max = 0;
      for (const id of members) max = Math.max(max, loads.inFlight(id));
      const ratio = max / (loads.totalInFlight / members.length);
      worst = Math.max(worst, ratio);
      sumRatio += ratio;
      steadyArrivals++;
    }
  }
  return {
    worstMaxOverMean: worst,
    meanMaxOverMean: steadyArrivals === 0 ? 0 : sumRatio / steadyArrivals,
    boundViolations,
    affinity: preferred / requests,
    passedOverPerRequest: passedOver / requests,
  };
}
