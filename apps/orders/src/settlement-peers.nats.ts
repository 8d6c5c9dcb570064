import { Injectable, Logger } from '@nestjs/common';
import type { Subscription } from '@nats-io/transport-node';
import { NatsConnectionHolder } from '@concord/platform';
import { ORDERS_SETTLED_PREFIX } from '@concord/contracts';
import { SettlementPeers } from './settlement-signal.js';

/** Pause before subscribing again when NATS cannot be reached or the connection was replaced. */
const resubscribeDelayMs = 500;

/**
 * {@link SettlementPeers} over core NATS: a settle is published to `orders.settled.<orderId>` (empty body) and
 * every orders instance subscribes to `orders.settled.*` (no queue group: each one must hear it). One publish
 * per settle, no reply awaited; an instance pays only a map lookup for orders nobody waits for on it.
 */
@Injectable()
export class NatsSettlementPeers extends SettlementPeers {
  private readonly logger = new Logger('SettlementPeers');
  private subscription: Subscription | undefined;
  private stopped = false;

  constructor(private readonly nats: NatsConnectionHolder) {
    super();
  }

  announce(orderId: string): void {
    this.nats.get().then(
      (nc) => nc.publish(`${ORDERS_SETTLED_PREFIX}${orderId}`),
      (error: unknown) =>
        this.logger.warn(`cannot announce the settle of ${orderId}: ${(error as Error).message}`),
    );
  }

  follow(onSettled: (orderId: string) => void): void {
    void this.run(onSettled);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.subscription?.unsubscribe();
  }

  /** Subscribes, and subscribes again whenever the subscription ends while the app runs (connection replaced). */
  private async run(onSettled: (orderId: string) => void): Promise<void> {
    const prefixLength = ORDERS_SETTLED_PREFIX.length;
    while (!this.stopped) {
      try {
        const nc = await this.nats.get();
        if (this.stopped) return;
        const subscription = nc.subscribe(`${ORDERS_SETTLED_PREFIX}*`);
        this.subscription = subscription;
        for await (const message of subscription) onSettled(message.subject.slice(prefixLength));
      } catch (error) {
        this.logger.warn(`following settles: ${(error as Error).message}`);
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, resubscribeDelayMs));
    }
  }
}
