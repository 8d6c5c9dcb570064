import { Clock, LruCache } from '@concord/platform';
import { Injectable } from '@nestjs/common';
import {
  type CommandEnvelope,
  type CommitStock,
  type Decide,
  type Prepare,
  type Prepared,
  type ReleaseStock,
  type Reply,
  type ReserveStock,
  type StockReserved,
  SUBJECTS,
} from '@concord/contracts';
import { Participant } from '@concord/saga';
import type { z } from 'zod';
import { InventoryService } from './inventory.service.js';
import { orderPayload, reservePayload } from './inventory.schemas.js';

/** How long the skus of a prepared 2PC branch are remembered, to invalidate the cache when it commits. */
const preparedSkusTtlMs = 15 * 60_000;
const preparedSkusMax = 10_000;

/**
 * Saga and 2PC commands, each run by the participant kit: inbox, fence and the business change in one local
 * transaction. The product cache is invalidated after the kit has committed.
 */
@Injectable()
export class InventoryCommands {
  private readonly preparedSkus: LruCache<string[]>;

  constructor(
    private readonly participant: Participant,
    private readonly inventory: InventoryService,
    clock: Clock,
  ) {
    this.preparedSkus = new LruCache(preparedSkusMax, preparedSkusTtlMs, () => clock.nowMs());
  }

  async reserve(env: CommandEnvelope<ReserveStock>): Promise<Reply<StockReserved>> {
    const payload = parse(reservePayload, env.payload);
    if (!payload.ok) return payload;
    const reply = await this.participant.action(env, SUBJECTS.inventoryReserve, (em) =>
      this.inventory.reserve(em, payload.result.orderId, payload.result.items),
    );
    this.inventory.invalidate(payload.result.items.map((line) => line.sku));
    return reply;
  }

  async release(env: CommandEnvelope<ReleaseStock>): Promise<Reply<null>> {
    const payload = parse(orderPayload, env.payload);
    if (!payload.ok) return payload;
    const touched: string[] = [];
    const reply = await this.participant.compensation(env, SUBJECTS.inventoryReserve, async (em) => {
      touched.push(...(await this.inventory.release(em, payload.result.orderId)));
      return { ok: true, result: null };
    });
    this.inventory.invalidate(touched);
    return reply;
  }

  async commit(env: CommandEnvelope<CommitStock>): Promise<Reply<null>> {
    const payload = parse(orderPayload, env.payload);
    if (!payload.ok) return payload;
    const touched: string[] = [];
    const reply = await this.participant.action(env, SUBJECTS.inventoryCommit, async (em) => {
      const outcome = await this.inventory.commit(em, payload.result.orderId);
      touched.push(...outcome.skus);
      return outcome.reply;
    });
    this.inventory.invalidate(touched);
    return reply;
  }

  async prepare(env: CommandEnvelope<Prepare<ReserveStock>>): Promise<Reply<Prepared>> {
    const payload = parse(reservePayload, env.payload.operation);
    if (!payload.ok) return payload;
    const reply = await this.participant.prepare(env, (em) =>
      this.inventory.prepareSale(em, payload.result.orderId, payload.result.items),
    );
    if (reply.ok)
      this.preparedSkus.set(
        env.payload.gid,
        payload.result.items.map((line) => line.sku),
      );
    return reply;
  }

  async commitPrepared(env: CommandEnvelope<Decide>): Promise<Reply<null>> {
    return this.decided(env, await this.participant.commitPrepared(env));
  }

  async abortPrepared(env: CommandEnvelope<Decide>): Promise<Reply<null>> {
    return this.decided(env, await this.participant.abortPrepared(env));
  }

  private decided(env: CommandEnvelope<Decide>, reply: Reply<null>): Reply<null> {
    const skus = this.preparedSkus.get(env.payload.gid);
    if (skus !== undefined) {
      this.preparedSkus.delete(env.payload.gid);
      this.inventory.invalidate(skus);
    }
    return reply;
  }
}

/** A malformed command is refused (with the reason) rather than half applied; the kit is not involved. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): Reply<z.infer<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, result: result.data };
  const detail = result.error.issues
    .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
    .join('; ');
  return { ok: false, reason: `malformed command: ${detail}` };
}
