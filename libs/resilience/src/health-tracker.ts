import { EventEmitter } from 'node:events';
import { type Clock, systemClock } from './clock.js';

export interface HealthSettings {
  /** Consecutive passing active checks that make an unhealthy instance healthy (default 2). */
  readonly rise: number;
  /** Consecutive failing active checks that make a healthy instance unhealthy (default 3). */
  readonly fall: number;
  /** Consecutive failed responses (5xx, transport errors) that eject an instance (default 5). */
  readonly consecutiveFailuresToEject: number;
  /** Ejection lasts base x (times ejected), capped (defaults 30 s and 300 s, as Envoy's outlier detection). */
  readonly baseEjectionMs: number;
  readonly maxEjectionMs: number;
  /** Never eject beyond this share of a service's instances (default 50). */
  readonly maxEjectionPercent: number;
  /**
   * Below this share of routable instances the service is in panic: every instance is offered again,
   * healthy or not (default 50, Envoy's healthy_panic_threshold). Better some requests to a maybe-bad
   * instance than all requests to the few left, which would then fall over too.
   */
  readonly panicThresholdPercent: number;
  /** New instances start healthy (the registry just announced them) unless false. */
  readonly initiallyHealthy: boolean;
}

export const DEFAULT_HEALTH_SETTINGS: HealthSettings = {
  rise: 2,
  fall: 3,
  consecutiveFailuresToEject: 5,
  baseEjectionMs: 30_000,
  maxEjectionMs: 300_000,
  maxEjectionPercent: 50,
  panicThresholdPercent: 50,
  initiallyHealthy: true,
};

export interface InstanceHealth {
  readonly id: string;
  /** Verdict of active checks. */
  readonly healthy: boolean;
  /** Ejected by passive outlier detection, until `ejectedUntilMs`. */
  readonly ejected: boolean;
  readonly ejectedUntilMs: number | undefined;
  readonly ejections: number;
  readonly consecutiveFailures: number;
}

export interface Routing {
  /** Instances to offer the balancer: the routable ones, or all of them in panic. */
  readonly instances: readonly string[];
  readonly panic: boolean;
  /** Predicate for Balancer.lookupWhere / lookupBounded. */
  readonly accept: (id: string) => boolean;
}

export type HealthChangeKind = 'healthy' | 'unhealthy' | 'ejected' | 'restored' | 'ejection-refused';

export interface HealthChange {
  readonly service: string;
  readonly id: string;
  readonly kind: HealthChangeKind;
  readonly atMs: number;
}

interface State {
  healthy: boolean;
  checkStreak: number; // > 0 passes in a row, < 0 failures in a row
  consecutiveFailures: number;
  ejectedUntilMs: number | undefined;
  ejections: number;
  lastEjectionEndMs: number;
}

/**
 * Health of each service's instances, from two sources: active checks (rise/fall hysteresis, as HAProxy
 * and Envoy do) and passive outlier detection on real responses (consecutive failures eject for a
 * while). A pure state machine over an injected clock; {@link ActiveHealthChecker} drives the checks.
 *
 * Two safety valves keep detection from causing the outage: ejection stops at `maxEjectionPercent` of a
 * service's instances, and when fewer than `panicThresholdPercent` are routable the service fails open.
 */
export class HealthTracker {
  readonly settings: HealthSettings;
  private readonly services = new Map<string, Map<string, State>>();
  private readonly events = new EventEmitter();
  private readonly clock: Clock;

  constructor(settings: Partial<HealthSettings> = {}, clock: Clock = systemClock) {
    this.settings = { ...DEFAULT_HEALTH_SETTINGS, ...settings };
    this.clock = clock;
  }

  /** Sets a service's instances: new ones start fresh, gone ones are forgotten, the rest keep their state. */
  setInstances(service: string, ids: readonly string[]): void {
    const previous = this.services.get(service) ?? new Map<string, State>();
    const next = new Map<string, State>();
    for (const id of ids) next.set(id, previous.get(id) ?? this.freshState());
    this.services.set(service, next);
  }

  instances(service: string): string[] {
    return [...(this.services.get(service)?.keys() ?? [])];
  }

  /** Records an active check result. */
  recordCheck(service: string, id: string, passed: boolean): void {
    const state = this.state(service, id);
    if (!state) return;
    state.checkStreak = passed ? Math.max(1, state.checkStreak + 1) : Math.min(-1, state.checkStreak - 1);
    if (!state.healthy && state.checkStreak >= this.settings.rise) {
      state.healthy = true;
      this.emit(service, id, 'healthy');
    } else if (state.healthy && -state.checkStreak >= this.settings.fall) {
      state.healthy = false;
      this.emit(service, id, 'unhealthy');
    }
  }

  /**
   * Records the outcome of a real request: `failed` for a 5xx or transport failure, not for a 4xx.
   * Enough failures in a row eject the instance, unless that would exceed the ejection cap.
   */
  recordResponse(service: string, id: string, failed: boolean): void {
    const state = this.state(service, id);
    if (!state) return;
    this.expireEjection(service, id, state);
    if (!failed) {
      state.consecutiveFailures = 0;
      return;
    }
    state.consecutiveFailures++;
    if (state.ejectedUntilMs !== undefined) return;
    if (state.consecutiveFailures < this.settings.consecutiveFailuresToEject) return;
    const instances = this.services.get(service)!;
    const ejectedNow = this.countEjected(service, instances);
    const maxEjected = Math.floor((instances.size * this.settings.maxEjectionPercent) / 100);
    if (ejectedNow + 1 > maxEjected) {
      this.emit(service, id, 'ejection-refused');
      return;
    }
    const now = this.clock.nowMs();
    // Ejections that came long ago are forgiven: the multiplier restarts after a calm max-ejection time.
    if (state.ejections > 0 && now - state.lastEjectionEndMs >= this.settings.maxEjectionMs)
      state.ejections = 0;
    state.ejections++;
    const durationMs = Math.min(this.settings.baseEjectionMs * state.ejections, this.settings.maxEjectionMs);
    state.ejectedUntilMs = now + durationMs;
    state.consecutiveFailures = 0;
    this.emit(service, id, 'ejected');
  }

  /** Whether the instance is healthy and not ejected (ignores panic; see {@link routing}). */
  isRoutable(service: string, id: string): boolean {
    const state = this.state(service, id);
    if (!state) return false;
    this.expireEjection(service, id, state);
    return state.healthy && state.ejectedUntilMs === undefined;
  }

  /** What the balancer should offer for this service now. */
  routing(service: string): Routing {
    const instances = this.instances(service);
    const routable = instances.filter((id) => this.isRoutable(service, id));
    const panic =
      instances.length > 0 && routable.length * 100 < instances.length * this.settings.panicThresholdPercent;
    if (panic) return { instances, panic, accept: () => true };
    const set = new Set(routable);
    return { instances: routable, panic, accept: (id) => set.has(id) };
  }

  snapshot(service: string): InstanceHealth[] {
    return this.instances(service).map((id) => {
      const state = this.state(service, id)!;
      this.expireEjection(service, id, state);
      return {
        id,
        healthy: state.healthy,
        ejected: state.ejectedUntilMs !== undefined,
        ejectedUntilMs: state.ejectedUntilMs,
        ejections: state.ejections,
        consecutiveFailures: state.consecutiveFailures,
      };
    });
  }

  /** Ends ejections whose time has come and reports them (call from a timer, or rely on lazy expiry). */
  tick(): void {
    for (const [service, instances] of this.services) {
      for (const [id, state] of instances) this.expireEjection(service, id, state);
    }
  }

  onChange(listener: (change: HealthChange) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  private countEjected(service: string, instances: Map<string, State>): number {
    let count = 0;
    for (const [id, state] of instances) {
      this.expireEjection(service, id, state);
      if (state.ejectedUntilMs !== undefined) count++;
    }
    return count;
  }

  private expireEjection(service: string, id: string, state: State): void {
    if (state.ejectedUntilMs === undefined || this.clock.nowMs() < state.ejectedUntilMs) return;
    state.lastEjectionEndMs = state.ejectedUntilMs;
    state.ejectedUntilMs = undefined;
    this.emit(service, id, 'restored');
  }

  private state(service: string, id: string): State | undefined {
    return this.services.get(service)?.get(id);
  }

  private freshState(): State {
    return {
      healthy: this.settings.initiallyHealthy,
      checkStreak: 0,
      consecutiveFailures: 0,
      ejectedUntilMs: undefined,
      ejections: 0,
      lastEjectionEndMs: 0,
    };
  }

  private emit(service: string, id: string, kind: HealthChangeKind): void {
    const change: HealthChange = { service, id, kind, atMs: this.clock.nowMs() };
    this.events.emit('change', change);
  }
}
