import { cursorKey, pageOf, type Page } from '@concord/saga';
import { Inject, Injectable } from '@nestjs/common';
import type { OrderLine, Reply, StockReserved } from '@concord/contracts';
import { APP_CONFIG, Clock, type JobFence, passFence, ProblemException } from '@concord/platform';
import type { EntityManager } from 'typeorm';
import type { InventoryConfig } from './config.js';
import { InventoryRepository } from './inventory.repository.js';
import { ProductCache } from './read-cache.js';
import { mergeLines, type ProductView, refusal, refusalFor, totalCents } from './stock.js';
import { RECEIVED_MAX } from './migrations/1767400000000-inventory-bigint-counters.js';

export type { Page };

const OK: Reply<null> = { ok: true, result: null };

/**
 * Inventory's business operations. HTTP and NATS handlers both call these. The transactional ones used by sagas
 * and two-phase commit take the EntityManager of a transaction someone else runs (the participant kit's), and
 * answer business refusals as `{ok: false}` without throwing: the kit then rolls their changes back.
 */
@Injectable()
export class InventoryService {
  constructor(
    private readonly repository: InventoryRepository,
    private readonly cache: ProductCache,
    private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: InventoryConfig,
  ) {}

  // --- HTTP: products and receipts ---------------------------------------------------------------------------

  async getProduct(sku: string): Promise<ProductView> {
    const product = await this.cache.get(sku, () =>
      this.repository.findProduct(this.repository.manager, sku),
    );
    if (product === undefined) throw new ProblemException(404, `no product with sku ${sku}`);
    return product;
  }

  async listProducts(cursor: string | undefined, limit: number): Promise<Page<ProductView>> {
    const afterSku = cursor === undefined ? undefined : cursorKey(cursor);
    const items = await this.repository.listProducts(this.repository.manager, afterSku, limit);
    return pageOf(items, limit, (product) => product.sku);
  }

  async createProduct(input: {
    sku: string;
    name: string;
    priceCents: number;
    stock: number;
  }): Promise<ProductView> {
    const created = await this.repository.transaction((em) => this.repository.insertProduct(em, input));
    if (created === undefined) throw new ProblemException(409, `a product with sku ${input.sku} exists`);
    this.cache.invalidate([input.sku]);
    return created;
  }

  async receive(sku: string, qty: number): Promise<ProductView> {
    const updated = await this.repository.transaction((em) => this.repository.receive(em, sku, qty));
    this.cache.invalidate([sku]);
    if (updated !== undefined) return updated;
    if ((await this.repository.findProduct(this.repository.manager, sku)) === undefined) {
      throw new ProblemException(404, `no product with sku ${sku}`);
    }
    throw new ProblemException(422, `receiving ${qty} would pass the cap of ${RECEIVED_MAX} units received`);
  }

  // --- Saga: reserve, release, commit --------------------------------------------------------------------------

  /**
   * Moves each line's quantity from stock to reserved at today's price, with an expiry. Refused when a sku is
   * unknown or short (nothing is kept then: the caller's transaction rolls back). A repeat for the same order
   * answers the existing reservation.
   */
  async reserve(
    em: EntityManager,
    orderId: string,
    items: readonly OrderLine[],
  ): Promise<Reply<StockReserved>> {
    return this.take(em, orderId, items, 'reserved');
  }

  /** Compensation of {@link reserve}: open reservations go back to stock. A no-op when there are none. */
  async release(em: EntityManager, orderId: string): Promise<string[]> {
    const lines = await this.repository.endOpenReservations(em, orderId, 'RELEASED');
    return lines.filter((line) => line.ended).map((line) => line.sku);
  }

  /**
   * After the saga's pivot: reservations become sales. Must not fail for a reason a retry cannot fix, so a line
   * that expired meanwhile is sold from stock if stock allows; only if it does not is the commit refused
   * (RESERVATION_TTL_MS must exceed every saga deadline for this never to happen).
   */
  async commit(em: EntityManager, orderId: string): Promise<{ reply: Reply<null>; skus: string[] }> {
    const lines = await this.repository.endOpenReservations(em, orderId, 'SOLD');
    const skus = lines.map((line) => line.sku);
    if (lines.length === 0)
      return { reply: { ok: false, reason: `no reservation for order ${orderId}` }, skus };
    for (const line of lines) {
      if (line.status === 'SOLD') continue;
      if (line.status === 'RELEASED')
        return { reply: { ok: false, reason: refusal.alreadyReleased(orderId) }, skus };
      // EXPIRED: sell again from stock if it is there.
      const taken = await this.repository.takeStock(em, line.sku, line.qty, 'sold');
      if (taken === undefined) {
        const reason = `reservation of ${line.sku} for order ${orderId} expired and the stock is gone`;
        return { reply: { ok: false, reason }, skus };
      }
      await this.repository.setReservationStatus(em, orderId, line.sku, 'EXPIRED', 'SOLD');
    }
    return { reply: OK, skus };
  }

  // --- Two-phase commit -----------------------------------------------------------------------------------------

  /** 2PC phase one's work: the final effect (stock to sold at today's price), kept by PREPARE TRANSACTION. */
  async prepareSale(
    em: EntityManager,
    orderId: string,
    items: readonly OrderLine[],
  ): Promise<Reply<StockReserved>> {
    return this.take(em, orderId, items, 'sold');
  }

  // --- Expiry --------------------------------------------------------------------------------------------------

  /** Releases up to `limit` expired reservations; answers the skus touched (already committed). */
  /**
   * Releases reservations past their expiry, under the expiry job's fencing token: the fence is passed first in the
   * same transaction (a stale token aborts it), and each released line records the token.
   */
  async expireDue(limit: number, fence: JobFence): Promise<string[]> {
    const expired = await this.repository.transaction(async (em) => {
      await passFence(em, fence);
      return this.repository.expireDue(em, this.clock.nowMs(), limit, fence.token);
    });
    const skus = expired.map((line) => line.sku);
    this.cache.invalidate(skus);
    return skus;
  }

  /** Claims the expiry job's token at the start of its term (stale holders are refused from now on). */
  async claimFence(fence: JobFence): Promise<void> {
    await this.repository.transaction((em) => passFence(em, fence));
  }

  /** Called by the NATS side once a transaction that changed these skus has committed. */
  invalidate(skus: Iterable<string>): void {
    this.cache.invalidate(skus);
  }

  private async take(
    em: EntityManager,
    orderId: string,
    items: readonly OrderLine[],
    into: 'reserved' | 'sold',
  ): Promise<Reply<StockReserved>> {
    const merged = mergeLines(items);
    const expiresAtMs = this.clock.nowMs() + this.config.RESERVATION_TTL_MS;
    const outcome = await this.repository.takeLines(em, orderId, merged, into, expiresAtMs);
    if ('earlier' in outcome) {
      // A repeat of the same order: answer the first reservation (the inbox catches re-sends; this, new ids).
      const wanted = into === 'reserved' ? 'RESERVED' : 'SOLD';
      if (outcome.earlier.some((line) => line.status !== wanted && line.status !== 'SOLD')) {
        return { ok: false, reason: refusal.alreadyReleased(orderId) };
      }
      const lines = outcome.earlier.map(({ sku, qty, priceCents }) => ({ sku, qty, priceCents }));
      return { ok: true, result: { lines, totalCents: totalCents(lines) } };
    }
    if (merged.length === 0) return { ok: false, reason: refusal.noItems() };
    const short = merged.find((line) => !outcome.taken.some((taken) => taken.sku === line.sku));
    if (short !== undefined) {
      return { ok: false, reason: refusalFor(short, await this.repository.findProduct(em, short.sku)) };
    }
    const lines = outcome.taken;
    return { ok: true, result: { lines, totalCents: totalCents(lines) } };
  }
}
