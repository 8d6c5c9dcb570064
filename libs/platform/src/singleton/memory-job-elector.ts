import type { JobElector, JobLease } from './singleton-job.js';

/**
 * An in-memory {@link JobElector} for tests and single-process tools: one holder per job, tokens strictly
 * increasing, waiters served in arrival order; `expire(job)` plays a lease that ran out.
 */
export class MemoryJobElector implements JobElector {
  private nextToken = 1;
  private readonly holders = new Map<string, { holder: string; lose: (why: string) => void }>();
  private readonly queues = new Map<string, (() => void)[]>();

  async acquire(job: string, holder: string, signal: AbortSignal): Promise<JobLease> {
    while (this.holders.has(job)) {
      await new Promise<void>((resolve, reject) => {
        const queue = this.queues.get(job) ?? [];
        queue.push(resolve);
        this.queues.set(job, queue);
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
      });
    }
    if (signal.aborted) throw new Error('aborted');
    let lose!: (why: string) => void;
    const lost = new Promise<string>((resolve) => (lose = resolve));
    const entry = { holder, lose };
    this.holders.set(job, entry);
    return {
      fencingToken: this.nextToken++,
      lost,
      release: async () => this.free(job, entry),
    };
  }

  holderOf(job: string): string | undefined {
    return this.holders.get(job)?.holder;
  }

  /** The holder's lease ran out: it is told (eventually) and the next in line gets the lock. */
  expire(job: string): void {
    const entry = this.holders.get(job);
    if (!entry) return;
    entry.lose('lease expired');
    this.free(job, entry);
  }

  private free(job: string, entry: { holder: string }): void {
    if (this.holders.get(job) !== entry) return;
    this.holders.delete(job);
    this.queues.get(job)?.shift()?.();
  }
}
