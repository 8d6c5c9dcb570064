import type { JobElector, JobLease } from '@concord/platform';
import type { CoordinationClient } from './coordination-client.js';
import { LeaseKeeper } from './lease-keeper.js';

export interface CoordinatorJobElectorOptions {
  /** Lease TTL: how long a frozen or dead holder keeps the job before the next instance takes over. */
  readonly ttlSeconds: number;
  /** How long one lock request waits in line before it is sent again (the place in line is kept). */
  readonly waitMs?: number;
}

/**
 * A {@link JobElector} on the coordinator's locks: the instance takes a lease (kept alive every TTL/3) and queues
 * for `locks/{name}` (job names start with their service, e.g. `inventory-reservation-expiry`, so a service token may take them); the lock's fencing token (the key's create revision) strictly increases from one holder to
 * the next. The lease ends the term: a holder that cannot keep it alive for a whole TTL (paused, partitioned)
 * reports the lock lost, and the coordinator hands the lock to the next in line when the lease expires.
 */
export class CoordinatorJobElector implements JobElector {
  constructor(
    private readonly client: CoordinationClient,
    private readonly options: CoordinatorJobElectorOptions,
  ) {}

  async acquire(job: string, holder: string, signal: AbortSignal): Promise<JobLease> {
    const waitMs = this.options.waitMs ?? 3_000;
    const keeper = await LeaseKeeper.grant(this.client, this.options.ttlSeconds);
    // The job name itself: it starts with the service (`inventory-…`), which is what a service token may lock.
    const name = job;
    try {
      for (;;) {
        if (signal.aborted) throw new Error('aborted');
        if (keeper.isLost()) throw new Error('lease lost while waiting for the lock');
        try {
          // Re-sending with the same lease finds the same place in line (the key derives from the lease).
          const { key, fencingToken } = await this.client.lock(name, keeper.id, waitMs, holder);
          if (keeper.isLost()) throw new Error('lease lost as the lock was granted');
          return {
            fencingToken,
            lost: keeper.lost,
            release: async () => {
              await this.client.unlock(name, key).catch(() => undefined);
              await keeper.stop(true).catch(() => undefined);
            },
          };
        } catch (error) {
          if ((error as { status?: number }).status !== 408) throw error;
        }
      }
    } catch (error) {
      await keeper.stop(true).catch(() => undefined);
      throw error;
    }
  }
}

/** The elector for a service's singleton jobs: the coordinator's locks, or none when no coordinator is configured. */
export function jobElector(
  client: CoordinationClient | null,
  ttlSeconds: number,
): CoordinatorJobElector | null {
  return client === null ? null : new CoordinatorJobElector(client, { ttlSeconds });
}
