import { Clock, LruCache } from '@concord/platform';
import { Injectable } from '@nestjs/common';
import {
  type CaptureFunds,
  type CommandEnvelope,
  type Decide,
  type FundsHeld,
  type HoldFunds,
  type Prepare,
  type Prepared,
  type ReleaseFunds,
  type Reply,
  SUBJECTS,
} from '@concord/contracts';
import { Participant } from '@concord/saga';
import type { EntityManager } from 'typeorm';
import type { z } from 'zod';
import { holdPayload, orderPayload } from './payments.schemas.js';
import { type Outcome, PaymentsService } from './payments.service.js';

const preparedAccountsTtlMs = 15 * 60_000;
const preparedAccountsMax = 10_000;

/**
 * Saga and 2PC commands, each run by the participant kit: inbox, fence and the business change in one local
 * transaction. The account cache is invalidated after the kit has committed.
 */
@Injectable()
export class PaymentsCommands {
  private readonly preparedAccounts: LruCache<string>;

  constructor(
    private readonly participant: Participant,
    private readonly payments: PaymentsService,
    clock: Clock,
  ) {
    this.preparedAccounts = new LruCache(preparedAccountsMax, preparedAccountsTtlMs, () => clock.nowMs());
  }

  async hold(env: CommandEnvelope<HoldFunds>): Promise<Reply<FundsHeld>> {
    const payload = parse(holdPayload, env.payload);
    if (!payload.ok) return payload;
    const { orderId, customerId, amountCents } = payload.result;
    return this.run(
      (work) => this.participant.action(env, SUBJECTS.paymentsHold, work),
      (em) => this.payments.hold(em, orderId, customerId, amountCents),
    );
  }

  async release(env: CommandEnvelope<ReleaseFunds>): Promise<Reply<null>> {
    const payload = parse(orderPayload, env.payload);
    if (!payload.ok) return payload;
    return this.run(
      (work) => this.participant.compensation(env, SUBJECTS.paymentsHold, work),
      (em) => this.payments.release(em, payload.result.orderId),
    );
  }

  async capture(env: CommandEnvelope<CaptureFunds>): Promise<Reply<null>> {
    const payload = parse(orderPayload, env.payload);
    if (!payload.ok) return payload;
    return this.run(
      (work) => this.participant.action(env, SUBJECTS.paymentsCapture, work),
      (em) => this.payments.capture(em, payload.result.orderId),
    );
  }

  async prepare(env: CommandEnvelope<Prepare<HoldFunds>>): Promise<Reply<Prepared>> {
    const payload = parse(holdPayload, env.payload.operation);
    if (!payload.ok) return payload;
    const { orderId, customerId, amountCents } = payload.result;
    const reply = await this.participant.prepare(
      env,
      async (em) => (await this.payments.prepareCharge(em, orderId, customerId, amountCents)).reply,
    );
    if (reply.ok) this.preparedAccounts.set(env.payload.gid, customerId);
    return reply;
  }

  async commitPrepared(env: CommandEnvelope<Decide>): Promise<Reply<null>> {
    return this.decided(env, await this.participant.commitPrepared(env));
  }

  async abortPrepared(env: CommandEnvelope<Decide>): Promise<Reply<null>> {
    return this.decided(env, await this.participant.abortPrepared(env));
  }

  /** Runs `work` through the kit, then invalidates the account it touched (committed by then). */
  private async run<R>(
    through: (work: (em: EntityManager) => Promise<Reply<R>>) => Promise<Reply<R>>,
    work: (em: EntityManager) => Promise<Outcome<R>>,
  ): Promise<Reply<R>> {
    let touched: string | undefined;
    const reply = await through(async (em) => {
      const outcome = await work(em);
      touched = outcome.customerId;
      return outcome.reply;
    });
    if (touched !== undefined) this.payments.invalidate([touched]);
    return reply;
  }

  private decided(env: CommandEnvelope<Decide>, reply: Reply<null>): Reply<null> {
    const customerId = this.preparedAccounts.get(env.payload.gid);
    if (customerId !== undefined) {
      this.preparedAccounts.delete(env.payload.gid);
      this.payments.invalidate([customerId]);
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
