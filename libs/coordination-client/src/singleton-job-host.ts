import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  instanceIdentity,
  type JobFence,
  type Metrics,
  SingletonJob,
  StaleFencingTokenError,
} from '@concord/platform';
import type { CoordinationClient } from './coordination-client.js';
import { jobElector } from './coordinator-job-elector.js';

export interface SingletonJobHostOptions {
  /** The job's lock and fence name, `{service}-…` (a service's own coordinator token may take only its own locks). */
  readonly name: string;
  /** The service the job belongs to (names this instance as the holder). */
  readonly service: string;
  readonly config: {
    readonly PORT: number;
    readonly INSTANCE_ID?: string | undefined;
    readonly PUBLIC_URL?: string | undefined;
    readonly SINGLETON_LEASE_TTL_SECONDS: number;
  };
  /** 0: the job never starts on this instance. */
  readonly intervalMs: number;
  /** Null: no coordinator configured; the job runs here alone (development). */
  readonly coordinator: CoordinationClient | null;
  readonly metrics: Metrics;
  /** Claims the term's fencing token in the job's database before its first pass. */
  readonly claim: (fence: JobFence) => Promise<void>;
}

/**
 * A service's periodic singleton job as a Nest provider: one {@link SingletonJob} elected through the coordinator's
 * locks, started once the application is up and stopped (its lock released) at shutdown. A subclass writes only
 * its `pass`; a pass that fails for any reason other than a stale fencing token is logged and retried at the next
 * tick, while a stale token ends the term (the job queues for the lock again).
 */
export abstract class SingletonJobHost implements OnApplicationBootstrap, OnApplicationShutdown {
  protected readonly logger: Logger;
  private readonly job: SingletonJob;

  protected constructor(private readonly options: SingletonJobHostOptions) {
    this.logger = new Logger(options.name);
    this.job = new SingletonJob({
      name: options.name,
      holder: instanceIdentity(options.service, options.config).instanceId,
      intervalMs: options.intervalMs,
      elector: jobElector(options.coordinator, options.config.SINGLETON_LEASE_TTL_SECONDS),
      pass: (fence) => this.guardedPass(fence),
      claim: options.claim,
      metrics: options.metrics,
      log: (m) => this.logger.log(m),
    });
  }

  /** One pass of the job under `fence`; returns how many items it handled. */
  protected abstract pass(fence: JobFence): Promise<number>;

  /** One pass now, as the job runs it (tests; a pass still running is not overlapped by the timer's). */
  async runOnce(fence: JobFence): Promise<number> {
    return this.guardedPass(fence);
  }

  onApplicationBootstrap(): void {
    if (this.options.intervalMs > 0) this.job.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.job.stop();
  }

  private async guardedPass(fence: JobFence): Promise<number> {
    try {
      return await this.pass(fence);
    } catch (error) {
      if (error instanceof StaleFencingTokenError) throw error; // the term is over: SingletonJob ends it
      this.logger.warn(`${this.options.name} pass failed: ${(error as Error).message}`);
      return 0;
    }
  }
}
