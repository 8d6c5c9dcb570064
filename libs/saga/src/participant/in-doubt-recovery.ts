import { hostname } from 'node:os';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { COORDINATION_CLIENT, type CoordinationClient, jobElector } from '@concord/coordination-client';
import { Metrics, NatsConnectionHolder, SingletonJob } from '@concord/platform';
import type { DecisionQuery, Reply, Decision } from '@concord/contracts';
import { type CommandSender, natsCommandSender } from '../transport/nest-nats.js';
import { parseGid } from './gid.js';
import { Participant, PARTICIPANT_OPTIONS, type ParticipantOptions } from './participant.js';

/** Asks the transaction's coordinator for its decision (presumed abort: no commit decision means abort). */
export type DecisionSource = (query: DecisionQuery) => Promise<Reply<Decision>>;

/** The one subject the participant kit sends: the 2PC decision query, to the orchestrator. */
interface DecisionMessages {
  'orchestrator.2pc.decision': [DecisionQuery, Reply<Decision>];
}

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

/**
 * Runs {@link recoverInDoubt} at start and every `recoveryIntervalMs`, asking `orchestrator.2pc.decision`, as a
 * singleton job of the service (`{service}-in-doubt-recovery`): one instance at a time, elected through the
 * coordinator's lock. Its writes are COMMIT/ROLLBACK PREPARED, which PostgreSQL cannot run inside a transaction
 * with a fence check; they need none: a gid is decided once (a second COMMIT PREPARED finds no such transaction),
 * and the decision comes from the orchestrator, never from the holder, so a stale holder repeats a decision at worst.
 */
@Injectable()
export class InDoubtRecovery implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('InDoubtRecovery');
  private readonly job: SingletonJob;
  /** One sender (one reply subscription) for the life of the service, not one per pass. */
  private readonly send: CommandSender<DecisionMessages>;

  constructor(
    private readonly participant: Participant,
    private readonly nats: NatsConnectionHolder,
    @Inject(PARTICIPANT_OPTIONS) private readonly options: ParticipantOptions,
    @Optional() @Inject(COORDINATION_CLIENT) coordinator: CoordinationClient | null = null,
    @Optional() metrics?: Metrics,
  ) {
    this.send = natsCommandSender<DecisionMessages>(() => this.nats.get());
    this.job = new SingletonJob({
      name: `${options.service}-in-doubt-recovery`,
      holder: options.instanceId ?? `${options.service}@${hostname()}:${process.pid}`,
      intervalMs: options.recoveryIntervalMs ?? recoveryIntervalMsDefault,
      elector: jobElector(coordinator ?? null, options.singletonLeaseTtlSeconds ?? 10),
      pass: () => this.pass(),
      ...(metrics ? { metrics } : {}),
      log: (m) => this.logger.log(m),
    });
  }

  onApplicationBootstrap(): void {
    this.job.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.job.stop();
  }

  /** One pass now (a pass still running is not overlapped). */
  async runOnce(): Promise<RecoveryPass> {
    const send = this.send;
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
