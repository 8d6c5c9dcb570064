import { Inject, Injectable } from '@nestjs/common';
import type { PlaceOrderInput, Reply, TransactionStarted } from '@concord/contracts';
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
  private readonly send: CommandSender;

  constructor(
    nats: NatsConnectionHolder,
    @Inject(APP_CONFIG) private readonly config: OrdersConfig,
  ) {
    super();
    this.send = natsCommandSender(() => nats.get());
  }

  start(mode: 'saga' | '2pc', input: PlaceOrderInput): Promise<Reply<TransactionStarted>> {
    return this.send(
      'orchestrator.start',
      { idempotencyKey: input.orderId, type: 'place-order', mode, input },
      this.config.ORCHESTRATOR_TIMEOUT_MS,
    );
  }
}
