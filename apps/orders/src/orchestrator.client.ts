import { retry } from '@concord/resilience';
import { Inject, Injectable } from '@nestjs/common';
import type { MessageMap, PlaceOrderInput, Reply, TransactionStarted } from '@concord/contracts';
import { APP_CONFIG, NatsConnectionHolder } from '@concord/platform';
import { type CommandSender, natsCommandSender } from '@concord/saga';
import type { OrdersConfig } from './config.js';

/** The port to the orchestrator: starts a place-order transaction. Rejects when it cannot be reached. */
export abstract class OrchestratorPort {
  abstract start(mode: 'saga' | '2pc', input: PlaceOrderInput): Promise<Reply<TransactionStarted>>;
}

/** `orchestrator.start` over NATS, idempotency key = order id, so a re-send finds the same transaction. */
@Injectable()
export class NatsOrchestratorClient extends OrchestratorPort {
  private readonly send: CommandSender<MessageMap>;

  constructor(
    nats: NatsConnectionHolder,
    @Inject(APP_CONFIG) private readonly config: OrdersConfig,
  ) {
    super();
    this.send = natsCommandSender<MessageMap>(() => nats.get());
  }

  /**
   * Safe to repeat (the order id is the idempotency key), so a failure is retried a few times with jittered
   * backoff: right after a start or a failover no orchestrator may lead yet, and the relay answers "no leader".
   * What still fails is left to the PENDING-order sweeper.
   */
  start(mode: 'saga' | '2pc', input: PlaceOrderInput): Promise<Reply<TransactionStarted>> {
    const timeoutMs = this.config.ORCHESTRATOR_TIMEOUT_MS;
    return retry(
      () =>
        this.send(
          'orchestrator.start',
          { idempotencyKey: input.orderId, type: 'place-order', mode, input },
          timeoutMs,
        ),
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
}
