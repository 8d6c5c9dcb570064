import { type Clock, type Random, type TimerHandle, systemClock, systemRandom } from './clock.js';
import type { HealthTracker } from './health-tracker.js';

/** One check of one instance; resolve true when it passed. A rejection counts as a failure. */
export type HealthProbe = (service: string, id: string, signal: AbortSignal) => Promise<boolean>;

export interface CheckResult {
  readonly service: string;
  readonly id: string;
  readonly passed: boolean;
}

export interface ActiveHealthCheckerOptions {
  readonly tracker: HealthTracker;
  readonly probe: HealthProbe;
  /** Time between rounds (default 5 s) and each probe's timeout (default 1 s). */
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  /** Each round starts after intervalMs x uniform(1 - j, 1 + j) (default j = 0.1), so gateways do not synchronise. */
  readonly jitterRatio?: number;
  readonly clock?: Clock;
  readonly random?: Random;
  /** Told every result, e.g. to feed BreakerRegistry.reportHealth (health-driven half-open probing). */
  readonly onResult?: (result: CheckResult) => void;
}

/**
 * The driver around {@link HealthTracker}: every interval it probes each instance of each watched service
 * in parallel, with a timeout, and records the results. Rounds never overlap: the next is scheduled when
 * the current one has finished.
 */
export class ActiveHealthChecker {
  private readonly tracker: HealthTracker;
  private readonly probe: HealthProbe;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly jitterRatio: number;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly onResult: ((result: CheckResult) => void) | undefined;
  private readonly services = new Set<string>();
  private timer: TimerHandle | undefined;
  private running = false;
  private round: Promise<void> | undefined;

  constructor(options: ActiveHealthCheckerOptions) {
    this.tracker = options.tracker;
    this.probe = options.probe;
    this.intervalMs = options.intervalMs ?? 5_000;
    this.timeoutMs = options.timeoutMs ?? 1_000;
    this.jitterRatio = options.jitterRatio ?? 0.1;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? systemRandom;
    this.onResult = options.onResult;
  }

  watch(service: string): void {
    this.services.add(service);
  }

  unwatch(service: string): void {
    this.services.delete(service);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Stops scheduling and waits for a round in progress to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    await this.round;
  }

  /** Runs one round now (also what the timer does). */
  async checkNow(): Promise<void> {
    const checks: Promise<void>[] = [];
    for (const service of this.services) {
      for (const id of this.tracker.instances(service)) checks.push(this.checkOne(service, id));
    }
    await Promise.all(checks);
  }

  private schedule(): void {
    if (!this.running) return;
    const delayMs = this.intervalMs * (1 - this.jitterRatio + 2 * this.jitterRatio * this.random());
    this.timer = this.clock.setTimer(delayMs, () => {
      this.round = this.checkNow().finally(() => {
        this.round = undefined;
        this.schedule();
      });
    });
  }

  private async checkOne(service: string, id: string): Promise<void> {
    const controller = new AbortController();
    let timer: TimerHandle | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = this.clock.setTimer(this.timeoutMs, () => {
        controller.abort(new Error(`health check timed out after ${this.timeoutMs} ms`));
        resolve(false);
      });
    });
    let passed: boolean;
    try {
      passed = await Promise.race([this.probe(service, id, controller.signal).catch(() => false), timedOut]);
    } finally {
      timer?.cancel();
    }
    this.tracker.recordCheck(service, id, passed);
    this.onResult?.({ service, id, passed });
  }
}
