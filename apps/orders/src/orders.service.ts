import { createHash } from 'node:crypto';
import { SharedConfig } from '@concord/coordination-client';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { OrderLine, Reply, SettleOrder } from '@concord/contracts';
import { APP_CONFIG, Clock, type JobFence, passFence, ProblemException } from '@concord/platform';
import type { OrdersConfig } from './config.js';
import type { OrderMode } from './order.entity.js';
import { OrderIds } from './order-ids.js';
import {
  decodeCursor,
  encodeCursor,
  type OrderView,
  type PlacedOrder,
  settleVerdict,
  toPlaced,
  toView,
} from './order-view.js';
import { OrchestratorPort } from './orchestrator.client.js';
import { type OrderRow, OrdersRepository } from './orders.repository.js';
import { SettlementSignal } from './settlement-signal.js';

export interface Page<T> {
  readonly items: readonly T[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  readonly nextCursor?: string;
}

export interface PlaceOrder {
  readonly customerId: string;
  readonly items: readonly OrderLine[];
  readonly mode: OrderMode;
}

/** SHA-256 of the order's meaning (customer, lines in order, mode), independent of JSON spelling. */
export function requestHash(input: PlaceOrder): string {
  const canonical = JSON.stringify([input.customerId, input.items.map((l) => [l.sku, l.qty]), input.mode]);
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * Orders: records an order PENDING, asks the orchestrator to run the place-order transaction, and takes its
 * verdict (`orders.settle`). The order row is written before the orchestrator is asked, so an order is never
 * lost: if the orchestrator cannot be reached, the re-send sweeper asks again (same idempotency key).
 */
@Injectable()
export class OrdersService {
  private readonly logger = new Logger('Orders');

  constructor(
    private readonly repository: OrdersRepository,
    private readonly orchestrator: OrchestratorPort,
    private readonly signal: SettlementSignal<OrderRow>,
    private readonly ids: OrderIds,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: OrdersConfig,
    /** Limits shared through the coordinator (`config/orders/...`), followed by watch; defaults without one. */
    @Optional() private readonly shared?: SharedConfig,
  ) {}

  async place(input: PlaceOrder, options: { wait: boolean; idempotencyKey?: string }): Promise<PlacedOrder> {
    const maxLines = this.shared?.getNumber('maxLinesPerOrder', 50) ?? 50;
    if (input.items.length > maxLines) {
      throw new ProblemException(
        422,
        `an order may have at most ${maxLines} lines (config/orders/maxLinesPerOrder)`,
      );
    }
    const hash = requestHash(input);
    const {
      order,
      created,
      requestHash: firstHash,
    } = await this.repository.insert(this.repository.manager, {
      id: this.ids.next(),
      customerId: input.customerId,
      items: input.items,
      mode: input.mode,
      idempotencyKey: options.idempotencyKey,
      requestHash: hash,
      nowMs: this.clock.nowMs(),
    });
    if (!created && firstHash !== null && firstHash !== hash) {
      throw new ProblemException(
        422,
        'this Idempotency-Key was already used with a different request; use a new key for a new order',
      );
    }
    if (!created) {
      return toPlaced(options.wait && order.status === 'PENDING' ? await this.waitSettled(order.id) : order);
    }
    // A new order is PENDING and nothing can settle it before its start is sent. With `wait`, the waiter is
    // registered before the start, so the order the start answers serves as the first read.
    const started = async (): Promise<OrderRow> => (await this.start(order)) ?? order;
    return toPlaced(options.wait ? await this.waitSettled(order.id, started) : await started());
  }

  async get(id: string): Promise<OrderView> {
    const order = await this.repository.find(this.repository.manager, id);
    if (order === undefined) throw new ProblemException(404, `no order ${id}`);
    return toView(order);
  }

  async list(customerId: string, cursor: string | undefined, limit: number): Promise<Page<OrderView>> {
    const beforeSeq = cursor === undefined ? undefined : decodeCursor(cursor);
    if (cursor !== undefined && beforeSeq === undefined) {
      throw new ProblemException(400, 'cursor: not a cursor this service returned');
    }
    const rows = await this.repository.listByCustomer(this.repository.manager, customerId, beforeSeq, limit);
    const last = rows.at(-1);
    const items = rows.map(toView);
    return rows.length === limit && last !== undefined
      ? { items, nextCursor: encodeCursor(last.seq) }
      : { items };
  }

  /** The orchestrator's verdict. Idempotent: a settled order keeps its first verdict. */
  async settle(message: SettleOrder): Promise<Reply<null>> {
    const settled = await this.repository.settle(this.repository.manager, message.orderId, {
      status: message.status,
      reason: message.status === 'CANCELLED' ? (message.reason ?? 'cancelled') : (message.reason ?? null),
      totalCents: message.totalCents ?? null,
      nowMs: this.clock.nowMs(),
    });
    if (settled !== undefined) {
      this.signal.settled(message.orderId, settled);
      return { ok: true, result: null };
    }
    const current = await this.repository.find(this.repository.manager, message.orderId);
    const verdict = settleVerdict(current, message.status);
    if (verdict === 'unknown') return { ok: false, reason: `no order ${message.orderId}` };
    if (verdict === 'conflict') {
      this.logger.error(
        `order ${message.orderId} is ${current?.status}; ignoring a later ${message.status} verdict`,
      );
    }
    return { ok: true, result: null };
  }

  /**
   * Re-sends `orchestrator.start` for PENDING orders whose last start is older than ORDER_RESEND_AFTER_MS.
   * Answers how many were re-sent.
   */
  /** Claims the re-send sweeper's token at the start of its term (stale holders are refused from now on). */
  async claimFence(fence: JobFence): Promise<void> {
    await this.repository.transaction((em) => passFence(em, fence));
  }

  async resendStale(limit: number, fence: JobFence): Promise<number> {
    const nowMs = this.clock.nowMs();
    const stale = await this.repository.transaction(async (em) => {
      // The sweeper's claim on the rows carries its fencing token: a stale holder's claim is refused here.
      await passFence(em, fence);
      return this.repository.claimStale(em, nowMs - this.config.ORDER_RESEND_AFTER_MS, nowMs, limit);
    });
    for (const order of stale) await this.start(order);
    return stale.length;
  }

  /** Asks the orchestrator to start (or find) the order's transaction; the order stays PENDING if it cannot. */
  private async start(order: OrderRow): Promise<OrderRow | undefined> {
    try {
      const reply = await this.orchestrator.start(order.mode, {
        orderId: order.id,
        customerId: order.customerId,
        items: order.items,
      });
      if (!reply.ok) {
        // Refused outright (the orchestrator will never run it): the order ends here.
        await this.settle({ orderId: order.id, status: 'CANCELLED', reason: reply.reason });
      } else {
        const updated = await this.repository.setTransactionId(
          this.repository.manager,
          order.id,
          reply.result.transactionId,
        );
        if (updated !== undefined) return updated;
      }
      return await this.repository.find(this.repository.manager, order.id);
    } catch (error) {
      this.logger.warn(
        `orchestrator.start for order ${order.id} failed (stays PENDING, re-sent later): ${(error as Error).message}`,
      );
      return undefined;
    }
  }

  /**
   * Waits for the order's settle: woken by the settle itself (here, with the settled order; or announced by
   * another instance), and re-reads the order every ORDER_WAIT_RECHECK_MS in case an announcement was lost. The
   * waiter is registered before each read, so a settle that lands between the read and the wait still wakes it.
   * `firstRead` stands in for the first read (the start's answer, for a new order).
   */
  private async waitSettled(id: string, firstRead?: () => Promise<OrderRow | undefined>): Promise<OrderRow> {
    const deadlineMs = this.clock.nowMs() + this.config.ORDER_WAIT_TIMEOUT_MS;
    const find = () => this.repository.find(this.repository.manager, id);
    for (let read = firstRead ?? find; ; read = find) {
      const remainingMs = deadlineMs - this.clock.nowMs();
      const wait = this.signal.wait(
        id,
        Math.min(this.config.ORDER_WAIT_RECHECK_MS, Math.max(0, remainingMs)),
      );
      const order = await read();
      if (order === undefined) {
        wait.cancel();
        throw new Error(`order ${id} vanished`);
      }
      if (order.status !== 'PENDING' || remainingMs <= 0) {
        wait.cancel();
        return order;
      }
      const settled = await wait.woken;
      if (settled !== undefined) return settled;
    }
  }
}
