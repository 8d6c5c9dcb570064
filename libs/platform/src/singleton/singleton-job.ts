import type { Gauge, Counter } from 'prom-client';
import type { Metrics } from '../metrics/metrics.js';
import { PeriodicTask } from '../time/periodic-task.js';

/** The term a job runs under: its name, the holder, and the fencing token every write of the term carries. */
export interface JobFence {
  readonly job: string;
  readonly holder: string;
  readonly token: number;
}

/**
 * A held job lock. Contract: `fencingToken` strictly increases from one holder to the next (the coordinator's
 * lock token); `lost` resolves once the lock must be presumed gone (lease expired or revoked, or no keep-alive
 * succeeded for a whole TTL); `release()` gives it up (unlock and revoke), never throws.
 */
export interface JobLease {
  readonly fencingToken: number;
  readonly lost: Promise<string>;
  release(): Promise<void>;
}

/** Elects one holder per job (the coordinator's locks in production, an in-memory one in tests). */
export interface JobElector {
  /** Waits until `holder` holds the lock of `job`; rejects when `signal` aborts or the coordinator fails. */
  acquire(job: string, holder: string, signal: AbortSignal): Promise<JobLease>;
}

/** A write refused because it carried an older fencing token than one the database has seen for the job. */
export class StaleFencingTokenError extends Error {
  constructor(
    readonly fence: JobFence,
    detail: string,
  ) {
    super(`job ${fence.job}: fencing token ${fence.token} of ${fence.holder} refused (${detail})`);
    this.name = 'StaleFencingTokenError';
  }
}

export interface SingletonJobOptions {
  /** The job's name: the lock's name in the coordinator and the fence row's key in the database. */
  readonly name: string;
  /** This instance's id (INSTANCE_ID). */
  readonly holder: string;
  readonly intervalMs: number;
  /** Null: no coordinator configured; the job runs here alone, with token 0 (one instance, development). */
  readonly elector: JobElector | null;
  /** One pass of the job; every write it makes carries `fence` (see `claimFence` / `singleton_fence()`). */
  readonly pass: (fence: JobFence) => Promise<unknown>;
  /**
   * Claims the token in the job's database at the start of a term, before the first pass, so that a stale holder
   * is refused from that moment on (not only after the new holder's first write).
   */
  readonly claim?: (fence: JobFence) => Promise<void>;
  readonly metrics?: Metrics;
  readonly log?: (message: string) => void;
  /** Wait before trying to acquire again after an error. */
  readonly retryMs?: number;
}

const retryMsDefault = 1_000;

/**
 * A periodic job that runs on exactly one instance at a time (Chubby's coarse-grained lock electing a single
 * worker, with a sequencer). Every instance runs a SingletonJob; each waits for the job's lock in the coordinator;
 * the holder runs `pass` every `intervalMs` under the lock's fencing token until the lock is lost, then stops its
 * passes and queues for the lock again. A holder paused past its lease (GC, SIGSTOP, a slow disk) may wake up
 * still believing it holds the lock: its writes carry its old token and the database refuses them, because the
 * next holder claimed a larger one (`claimFence`). When the holder dies, its lease expires and the next instance in
 * line takes over within one lease TTL.
 *
 * Operators see the holder through two gauges per job: `singleton_job_held{job}` (1 on the holder) and
 * `singleton_job_fencing_token{job}`; `singleton_job_fenced_total{job}` counts passes the database refused.
 */
export class SingletonJob {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private endTerm: ((reason: string) => void) | undefined;
  private current: JobFence | null = null;
  private readonly held: Gauge<'job'> | undefined;
  private readonly token: Gauge<'job'> | undefined;
  private readonly fenced: Counter<'job'> | undefined;
  private readonly terms: Counter<'job'> | undefined;

  constructor(private readonly options: SingletonJobOptions) {
    const m = options.metrics;
    if (m) {
      this.held = gauge(m, 'singleton_job_held', 'Whether this instance holds the job (1) or not (0).');
      this.token = gauge(
        m,
        'singleton_job_fencing_token',
        'Fencing token of the current or last term held here.',
      );
      this.fenced = counter(
        m,
        'singleton_job_fenced_total',
        'Passes the database refused for a stale fencing token.',
      );
      this.terms = counter(m, 'singleton_job_terms_total', 'Terms this instance started holding the job.');
      this.held.set({ job: options.name }, 0);
      this.fenced.inc({ job: options.name }, 0); // shown as 0 before the first refusal
      this.terms.inc({ job: options.name }, 0);
    }
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.endTerm?.('stopping');
    await this.loop;
  }

  /** The term held now, or null. */
  holding(): JobFence | null {
    return this.current;
  }

  private async run(): Promise<void> {
    const { name, holder, elector } = this.options;
    const retryMs = this.options.retryMs ?? retryMsDefault;
    while (!this.abort.signal.aborted) {
      let lease: JobLease | null = null;
      try {
        lease = elector ? await elector.acquire(name, holder, this.abort.signal) : null;
      } catch (error) {
        if (this.abort.signal.aborted) break;
        this.options.log?.(`job ${name}: cannot acquire its lock yet (${(error as Error).message})`);
        await sleep(retryMs, this.abort.signal);
        continue;
      }
      const fence: JobFence = { job: name, holder, token: lease?.fencingToken ?? 0 };
      const reason = await this.term(fence, lease);
      this.options.log?.(`job ${name}: term ${fence.token} over (${reason})`);
      await lease?.release();
      if (!this.abort.signal.aborted && reason !== 'stopping')
        await sleep(Math.min(retryMs, 200), this.abort.signal);
    }
  }

  /** Runs passes under one token until the lease is lost, the database refuses the token, or stop(). */
  private async term(fence: JobFence, lease: JobLease | null): Promise<string> {
    const ended = new Promise<string>((resolve) => (this.endTerm = resolve));
    void lease?.lost.then((why) => this.endTerm?.(`lock lost: ${why}`));
    if (this.abort.signal.aborted) return 'stopping';
    try {
      await this.options.claim?.(fence);
    } catch (error) {
      if (error instanceof StaleFencingTokenError) this.fenced?.inc({ job: fence.job });
      return `claim failed: ${(error as Error).message}`;
    }
    this.current = fence;
    this.held?.set({ job: fence.job }, 1);
    this.token?.set({ job: fence.job }, fence.token);
    this.terms?.inc({ job: fence.job });
    this.options.log?.(`job ${fence.job}: ${fence.holder} holds it with fencing token ${fence.token}`);
    const task = new PeriodicTask(this.options.intervalMs, async () => {
      try {
        await this.options.pass(fence);
      } catch (error) {
        if (!(error instanceof StaleFencingTokenError)) throw error;
        this.fenced?.inc({ job: fence.job });
        this.endTerm?.(error.message);
      }
    });
    task.start({ immediately: true });
    const reason = await ended;
    this.current = null;
    this.held?.set({ job: fence.job }, 0);
    await task.stop();
    return reason;
  }
}

function gauge(m: Metrics, name: string, help: string): Gauge<'job'> {
  const existing = m.registry.getSingleMetric(name) as Gauge<'job'> | undefined;
  return existing ?? m.gauge(name, help, ['job']);
}

function counter(m: Metrics, name: string, help: string): Counter<'job'> {
  const existing = m.registry.getSingleMetric(name) as Counter<'job'> | undefined;
  return existing ?? m.counter(name, help, ['job']);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
