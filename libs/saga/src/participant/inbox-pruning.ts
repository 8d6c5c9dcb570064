import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { PeriodicTask } from '@concord/platform';
import { Participant, PARTICIPANT_OPTIONS, type ParticipantOptions } from './participant.js';

const pruneIntervalMsDefault = 60_000;
const retentionMsDefault = 7 * 24 * 3_600_000;
const pruneBatchMaxDefault = 1_000;
/** Batches per pass: a backlog is worked off over several passes, never in one long burst of deletes. */
const pruneBatchesPerPassMax = 10;

/** Pass of the pruning loop: how many rows each table lost. */
export interface PrunePass {
  readonly inbox: number;
  readonly fence: number;
  readonly batches: number;
}

/**
 * Deletes old inbox and fence rows in bounded batches until a batch comes back short or the pass's batch cap is
 * reached. Safe on every instance at once (each DELETE takes rows by key; two instances deleting the same row
 * just both find it gone), so it needs no singleton job.
 */
export async function pruneOnce(
  prune: (olderThanMs: number, batchMax: number) => Promise<{ inbox: number; fence: number }>,
  retentionMs: number,
  batchMax: number,
  batchesMax = pruneBatchesPerPassMax,
): Promise<PrunePass> {
  let inbox = 0;
  let fence = 0;
  let batches = 0;
  while (batches < batchesMax) {
    const removed = await prune(retentionMs, batchMax);
    batches += 1;
    inbox += removed.inbox;
    fence += removed.fence;
    if (removed.inbox < batchMax && removed.fence < batchMax) break;
  }
  return { inbox, fence, batches };
}

/** Schedules {@link Participant.prune} on each instance (`pruneIntervalMs`, `retentionMs`, `pruneBatchMax`). */
@Injectable()
export class InboxPruning implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('InboxPruning');
  private readonly task: PeriodicTask;

  constructor(participant: Participant, @Inject(PARTICIPANT_OPTIONS) options: ParticipantOptions) {
    const retentionMs = options.retentionMs ?? retentionMsDefault;
    const batchMax = options.pruneBatchMax ?? pruneBatchMaxDefault;
    this.task = new PeriodicTask(options.pruneIntervalMs ?? pruneIntervalMsDefault, async () => {
      try {
        const pass = await pruneOnce((age, max) => participant.prune(age, max), retentionMs, batchMax);
        if (pass.inbox + pass.fence > 0)
          this.logger.log(`pruned ${pass.inbox} inbox and ${pass.fence} fence rows`);
      } catch (error) {
        this.logger.warn(`pruning failed (tried again next interval): ${(error as Error).message}`);
      }
    });
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task.stop();
  }
}
