import { retry } from '@concord/resilience';
import { Inject, Injectable } from '@nestjs/common';
import {
  isLeaderRetry,
  type LeaderRetry,
  type MessageMap,
  ORCHESTRATOR_LEADER_SUBJECTS,
  type PlaceOrderInput,
  type Reply,
  type StartTransaction,
  type TransactionStarted,
} from '@concord/contracts';
import { APP_CONFIG, NatsConnectionHolder } from '@concord/platform';
import {
  type CommandSender,
  muxRequest,
  natsCommandSender,
  NoRespondersError,
  ReplyMux,
} from '@concord/saga';
import type { OrdersConfig } from './config.js';

/** The port to the orchestrator: starts a place-order transaction. Rejects when it cannot be reached. */
export abstract class OrchestratorPort {
  abstract start(mode: 'saga' | '2pc', input: PlaceOrderInput): Promise<Reply<TransactionStarted>>;
}

/**
 * `orchestrator.start` over NATS, idempotency key = order id, so a re-send finds the same transaction.
 *
 * The start goes to the leading orchestrator directly (`orchestrator.leader.start`, which only the leader
 * subscribes to). Through the queue group (`orchestrator.start`) half the starts would land on a follower and take
 * one more NATS round trip to reach the leader. With no leader subscribed (an election in progress, or an
 * orchestrator that predates the direct subject) the start goes through the queue group as before.
 */
@Injectable()
export class NatsOrchestratorClient extends OrchestratorPort {
  private readonly mux = new ReplyMux();
  private readonly send: CommandSender<MessageMap>;

  constructor(
    private readonly nats: NatsConnectionHolder,
    @Inject(APP_CONFIG) private readonly config: OrdersConfig,
  ) {
    super();
    this.send = natsCommandSender<MessageMap>(() => nats.get(), this.mux);
  }

  /**
   * Safe to repeat (the order id is the idempotency key), so a failure is retried a few times with jittered
   * backoff: right after a start or a failover no orchestrator may lead yet, and the relay answers "no leader".
   * What still fails is left to the PENDING-order sweeper.
   */
  start(mode: 'saga' | '2pc', input: PlaceOrderInput): Promise<Reply<TransactionStarted>> {
    const timeoutMs = this.config.ORCHESTRATOR_TIMEOUT_MS;
    const message: StartTransaction = { idempotencyKey: input.orderId, type: 'place-order', mode, input };
    return retry(
      async () => {
        try {
          return await this.startAtLeader(message, timeoutMs);
        } catch (error) {
          if (!(error instanceof NoRespondersError)) throw error;
          return this.send('orchestrator.start', message, timeoutMs);
        }
      },
      {
        maxAttempts: 4,
        deadlineMs: 2 * timeoutMs,
        perTryTimeoutMs: timeoutMs,
        baseDelayMs: 200,
        maxDelayMs: 1_000,
        shouldRetry: () => true,
      },
    );
  }

  /** The start in plain JSON on the leader's subject; a {@link LeaderRetry} answer is a failure to retry. */
  private async startAtLeader(
    message: StartTransaction,
    timeoutMs: number,
  ): Promise<Reply<TransactionStarted>> {
    const subject = ORCHESTRATOR_LEADER_SUBJECTS.start;
    const answer = await muxRequest(
      this.mux,
      await this.nats.get(),
      subject,
      JSON.stringify(message),
      timeoutMs,
    );
    const reply = answer.json<Reply<TransactionStarted> | LeaderRetry>();
    if (isLeaderRetry(reply)) throw new Error(`${subject}: ${reply.reason}`);
    return reply;
  }
}
