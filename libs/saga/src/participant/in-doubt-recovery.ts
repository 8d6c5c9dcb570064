import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { NatsConnectionHolder, PeriodicTask } from '@concord/platform';
import type { DecisionQuery, Reply, Decision } from '@concord/contracts';
import { natsCommandSender } from '../transport/nest-nats.js';
import { parseGid } from './gid.js';
import { Participant, PARTICIPANT_OPTIONS, type ParticipantOptions } from './participant.js';

/** Asks the transaction's coordinator for its decision (presumed abort: no commit decision means abort). */
export type DecisionSource = (query: DecisionQuery) => Promise<Reply<Decision>>;

export interface RecoveryPass {
  readonly found: number;
  readonly committed: number;
  readonly aborted: number;
  readonly failed: number;
}

/**
 * One pass of in-doubt recovery: every prepared transaction of this service older than `inDoubtAgeMs` is
 * decided by asking the orchestrator, then committed or rolled back. Failures are counted, not thrown: the next
 * pass tries again, and nothing is ever decided locally (only the orchestrator knows whether it said commit).
 */
export async function recoverInDoubt(
  participant: Participant,
  askDecision: DecisionSource,
  inDoubtAgeMs: number,
  onError: (gid: string, error: unknown) => void = () => undefined,
): Promise<RecoveryPass> {
  const gids = await participant.listPrepared(inDoubtAgeMs);
  let committed = 0;
  let aborted = 0;
  let failed = 0;
  for (const gid of gids) {
    try {
      const answer = await askDecision({ gid, transactionId: parseGid(gid).transactionId });
      if (!answer.ok) throw new Error(`decision refused: ${answer.reason}`);
      await participant.decide(gid, answer.result.decision);
      if (answer.result.decision === 'commit') committed += 1;
      else aborted += 1;
    } catch (error) {
      failed += 1;
      onError(gid, error);
    }
  }
  return { found: gids.length, committed, aborted, failed };
}

const recoveryIntervalMsDefault = 5_000;
const inDoubtAgeMsDefault = 10_000;
const decisionTimeoutMsDefault = 2_000;

/** Runs {@link recoverInDoubt} at start and every `recoveryIntervalMs`, asking `orchestrator.2pc.decision`. */
@Injectable()
export class InDoubtRecovery implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('InDoubtRecovery');
  private readonly task: PeriodicTask;

  constructor(
    private readonly participant: Participant,
    private readonly nats: NatsConnectionHolder,
    @Inject(PARTICIPANT_OPTIONS) private readonly options: ParticipantOptions,
  ) {
    this.task = new PeriodicTask(options.recoveryIntervalMs ?? recoveryIntervalMsDefault, () => this.pass());
  }

  onApplicationBootstrap(): void {
    this.task.start({ immediately: true });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.task.stop();
  }

  /** One pass now (a pass still running is not overlapped). */
  async runOnce(): Promise<RecoveryPass> {
    const send = natsCommandSender(() => this.nats.get());
    const timeoutMs = this.options.decisionTimeoutMs ?? decisionTimeoutMsDefault;
    return recoverInDoubt(
      this.participant,
      (query) => send('orchestrator.2pc.decision', query, timeoutMs),
      this.options.inDoubtAgeMs ?? inDoubtAgeMsDefault,
      (gid, error) => this.logger.warn(`in-doubt ${gid} not resolved yet: ${(error as Error).message}`),
    );
  }

  private async pass(): Promise<void> {
    try {
      const pass = await this.runOnce();
      if (pass.found > 0) this.logger.log(`in-doubt recovery: ${JSON.stringify(pass)}`);
    } catch (error) {
      this.logger.warn(`in-doubt recovery pass failed: ${(error as Error).message}`);
    }
  }
}
