import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { type Clock, type Random, systemClock, systemRandom } from './clock.js';
import { isNeutralForBreaker } from './errors.js';

export type BreakerState = 'closed' | 'open' | 'halfOpen';

export interface BreakerSettings {
  /** opossum's per-call timeout; false leaves timeouts to the caller (the retry helper). Default false. */
  readonly timeoutMs: number | false;
  /** Failure percentage in the rolling window that opens the breaker (default 50). */
  readonly errorThresholdPercentage: number;
  /** Calls needed in the window before the breaker may open (default 10): two failures out of two is noise. */
  readonly volumeThreshold: number;
  /** Rolling statistics window and its bucket count (default 10 s in 10 buckets). */
  readonly rollingWindowMs: number;
  readonly rollingBuckets: number;
  /** Time open before a probe (default 5 s), each time drawn within +/- `resetJitterRatio` (default 0.2). */
  readonly resetTimeoutMs: number;
  readonly resetJitterRatio: number;
  /**
   * When true, an active health check decides when an open breaker closes ({@link BreakerRegistry.reportHealth}):
   * no user request is sacrificed as the half-open probe. opossum's own half-open timer still runs, at
   * `healthFallbackResetMs`, in case the health checker stops reporting. Default false.
   */
  readonly healthDriven: boolean;
  readonly healthFallbackResetMs: number;
  /** Bulkhead: concurrent calls allowed (default unlimited); a rejection does not count as a failure. */
  readonly capacity: number | undefined;
}

export const DEFAULT_BREAKER_SETTINGS: BreakerSettings = {
  timeoutMs: false,
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  rollingWindowMs: 10_000,
  rollingBuckets: 10,
  resetTimeoutMs: 5_000,
  resetJitterRatio: 0.2,
  healthDriven: false,
  healthFallbackResetMs: 60_000,
  capacity: undefined,
};

export interface BreakerStateChange {
  readonly key: string;
  readonly route: string | undefined;
  readonly from: BreakerState;
  readonly to: BreakerState;
  /** 'calls' when opossum decided from traffic or its timer; 'health' when a health result did. */
  readonly reason: 'calls' | 'health';
}

export interface BreakerRegistryOptions {
  readonly defaults?: Partial<BreakerSettings>;
  /** Settings per route (service); a key's breaker takes the settings of the route it is first used with. */
  readonly routes?: Readonly<Record<string, Partial<BreakerSettings>>>;
  readonly random?: Random;
  /** Used for the time a breaker has been open (health-driven closing). opossum itself uses real timers. */
  readonly clock?: Clock;
  /**
   * Rotate the rolling-window buckets from one timer per window size, shared by every breaker (default),
   * or only when {@link BreakerRegistry.rotateBuckets} is called ('manual', for tests). opossum's own
   * default is one interval timer per breaker.
   */
  readonly bucketRotation?: 'shared-timer' | 'manual';
}

type Thunk = () => Promise<unknown>;
type Breaker = CircuitBreaker<[Thunk], unknown>;

interface Entry {
  readonly breaker: Breaker;
  readonly route: string | undefined;
  readonly settings: BreakerSettings;
  state: BreakerState;
  openedAtMs: number;
  /** The jittered time this opening must last before a health result may close it. */
  openForMs: number;
  /** Set while the registry itself opens or closes the breaker, to label the event. */
  healthTransition: boolean;
}

interface Rotator {
  readonly emitter: EventEmitter;
  readonly timer: NodeJS.Timeout | undefined;
}

/** opossum keeps its options on the instance; resetTimeout is read each time the breaker opens. */
interface MutableResetTimeout {
  options: { resetTimeout: number };
}

/**
 * One opossum circuit breaker per key (upstream instance id), created on first use with the settings of
 * its route. The gateway asks {@link isAvailable} while walking the ring, so an instance with an open
 * breaker is passed over and the keys of healthy instances keep their affinity.
 *
 * Choices: rolling percentiles off (the hot path pays no latency sort); 4xx answers and bulkhead
 * rejections are filtered (they say nothing about the instance); the reset timeout is jittered on every
 * opening so that breakers opened together (one network blip) do not probe together; bucket rotation
 * comes from one shared timer instead of one per breaker.
 */
export class BreakerRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly events = new EventEmitter();
  private readonly rotators = new Map<number, Rotator>();
  private readonly defaults: BreakerSettings;
  private readonly routes: Readonly<Record<string, Partial<BreakerSettings>>>;
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly rotation: 'shared-timer' | 'manual';

  constructor(options: BreakerRegistryOptions = {}) {
    this.defaults = { ...DEFAULT_BREAKER_SETTINGS, ...options.defaults };
    this.routes = options.routes ?? {};
    this.random = options.random ?? systemRandom;
    this.clock = options.clock ?? systemClock;
    this.rotation = options.bucketRotation ?? 'shared-timer';
  }

  /** The settings a key gets when first used with `route`. */
  settingsFor(route: string | undefined): BreakerSettings {
    const overrides = route === undefined ? undefined : this.routes[route];
    return overrides ? { ...this.defaults, ...overrides } : this.defaults;
  }

  /** Runs `call` through the key's breaker. Rejects with code EOPENBREAKER, without calling, when open. */
  fire<T>(key: string, call: () => Promise<T>, route?: string): Promise<T> {
    return this.entry(key, route).breaker.fire(call) as Promise<T>;
  }

  /** Whether a request may be sent to `key` now: closed, or half-open with its probe slot free. */
  isAvailable(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return true;
    const breaker = entry.breaker;
    return breaker.closed || (breaker.halfOpen && breaker.pendingClose);
  }

  state(key: string): BreakerState | undefined {
    return this.entries.get(key)?.state;
  }

  /** Every key's state (for metrics and the admin view). */
  states(): Map<string, BreakerState> {
    return new Map([...this.entries].map(([key, entry]) => [key, entry.state]));
  }

  /**
   * Feeds an active health check result. Unhealthy opens the breaker at once. Healthy closes an open
   * breaker of a health-driven route once it has stayed open for its jittered reset time (the health
   * probe stands in for opossum's half-open user request), and closes a half-open one at once.
   */
  reportHealth(key: string, healthy: boolean): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    const breaker = entry.breaker;
    entry.healthTransition = true;
    try {
      if (!healthy) {
        if (!breaker.opened) breaker.open();
      } else if (breaker.halfOpen) {
        breaker.close();
      } else if (breaker.opened && entry.settings.healthDriven) {
        if (this.clock.nowMs() - entry.openedAtMs >= entry.openForMs) breaker.close();
      }
    } finally {
      entry.healthTransition = false;
    }
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onStateChange(listener: (change: BreakerStateChange) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  /** Advances every rolling window by one bucket ('manual' rotation). */
  rotateBuckets(): void {
    for (const rotator of this.rotators.values()) rotator.emitter.emit('rotate');
  }

  /** Forgets a key (its instance left the service). */
  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return false;
    entry.breaker.shutdown();
    this.entries.delete(key);
    return true;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Stops every breaker and timer. */
  shutdown(): void {
    for (const entry of this.entries.values()) entry.breaker.shutdown();
    this.entries.clear();
    for (const rotator of this.rotators.values()) if (rotator.timer) clearInterval(rotator.timer);
    this.rotators.clear();
    this.events.removeAllListeners();
  }

  private entry(key: string, route: string | undefined): Entry {
    const existing = this.entries.get(key);
    if (existing) return existing;
    const settings = this.settingsFor(route);
    const rotator = this.rotator(Math.max(1, Math.floor(settings.rollingWindowMs / settings.rollingBuckets)));
    const options: CircuitBreaker.Options<[Thunk]> = {
      name: key,
      group: route ?? key,
      timeout: settings.timeoutMs,
      errorThresholdPercentage: settings.errorThresholdPercentage,
      volumeThreshold: settings.volumeThreshold,
      rollingCountTimeout: settings.rollingWindowMs,
      rollingCountBuckets: settings.rollingBuckets,
      resetTimeout: this.nextResetMs(settings),
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      rotateBucketController: rotator.emitter,
      errorFilter: (error: unknown) => isNeutralForBreaker(error),
      ...(settings.capacity === undefined ? {} : { capacity: settings.capacity }),
    };
    const breaker: Breaker = new CircuitBreaker((thunk: Thunk) => thunk(), options);
    const entry: Entry = {
      breaker,
      route,
      settings,
      state: 'closed',
      openedAtMs: 0,
      openForMs: 0,
      healthTransition: false,
    };
    // opossum's own 'open' listener (registered in its constructor) has already read resetTimeout when
    // ours runs, so drawing the next value here jitters the following opening.
    breaker.on('open', () => {
      entry.openedAtMs = this.clock.nowMs();
      entry.openForMs = jittered(settings.resetTimeoutMs, settings.resetJitterRatio, this.random);
      (breaker as unknown as MutableResetTimeout).options.resetTimeout = this.nextResetMs(settings);
      this.transition(key, entry, 'open');
    });
    breaker.on('halfOpen', () => this.transition(key, entry, 'halfOpen'));
    breaker.on('close', () => this.transition(key, entry, 'closed'));
    this.entries.set(key, entry);
    return entry;
  }

  private nextResetMs(settings: BreakerSettings): number {
    const base = settings.healthDriven ? settings.healthFallbackResetMs : settings.resetTimeoutMs;
    return jittered(base, settings.resetJitterRatio, this.random);
  }

  private transition(key: string, entry: Entry, to: BreakerState): void {
    const from = entry.state;
    if (from === to) return;
    entry.state = to;
    const change: BreakerStateChange = {
      key,
      route: entry.route,
      from,
      to,
      reason: entry.healthTransition ? 'health' : 'calls',
    };
    this.events.emit('change', change);
  }

  private rotator(bucketMs: number): Rotator {
    const existing = this.rotators.get(bucketMs);
    if (existing) return existing;
    const emitter = new EventEmitter();
    // opossum adds one 'rotate' listener per breaker; hundreds of instances are expected, not a leak.
    emitter.setMaxListeners(0);
    let timer: NodeJS.Timeout | undefined;
    if (this.rotation === 'shared-timer') {
      timer = setInterval(() => emitter.emit('rotate'), bucketMs);
      timer.unref();
    }
    const rotator: Rotator = { emitter, timer };
    this.rotators.set(bucketMs, rotator);
    return rotator;
  }
}

/** base x uniform(1 - ratio, 1 + ratio), at least 1 ms. */
export function jittered(baseMs: number, ratio: number, random: Random): number {
  return Math.max(1, Math.round(baseMs * (1 - ratio + 2 * ratio * random())));
}
