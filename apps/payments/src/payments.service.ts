import { cursorId, pageOf, type Page } from '@concord/saga';
import { Injectable } from '@nestjs/common';
import type { FundsHeld, Reply } from '@concord/contracts';
import { ProblemException } from '@concord/platform';
import type { EntityManager } from 'typeorm';
import { type AccountView, refusal } from './funds.js';
import { type LedgerRow, PaymentsRepository } from './payments.repository.js';
import { AccountCache } from './read-cache.js';
import { DEPOSITED_CENTS_MAX } from './migrations/1767400000000-payments-caps.js';

export type { Page };

/** What a transactional operation answers, with the account it touched (to invalidate the cache after commit). */
export interface Outcome<R> {
  readonly reply: Reply<R>;
  readonly customerId?: string;
}

/**
 * Payments' business operations. HTTP and NATS handlers both call these. The transactional ones used by sagas
 * and two-phase commit take the EntityManager of a transaction someone else runs (the participant kit's), and
 * answer business refusals as `{ok: false}` without throwing: the kit then rolls their changes back.
 */
@Injectable()
export class PaymentsService {
  constructor(
    private readonly repository: PaymentsRepository,
    private readonly cache: AccountCache,
  ) {}

  // --- HTTP: accounts and deposits -----------------------------------------------------------------------------

  async getAccount(customerId: string): Promise<AccountView> {
    const account = await this.cache.get(customerId, () =>
      this.repository.findAccount(this.repository.manager, customerId),
    );
    if (account === undefined) throw new ProblemException(404, `no account for customer ${customerId}`);
    return account;
  }

  async openAccount(customerId: string): Promise<AccountView> {
    const opened = await this.repository.transaction((em) => this.repository.insertAccount(em, customerId));
    if (opened === undefined) throw new ProblemException(409, `customer ${customerId} has an account`);
    this.cache.invalidate([customerId]);
    return opened;
  }

  async deposit(customerId: string, amountCents: number): Promise<AccountView> {
    const account = await this.repository.transaction((em) =>
      this.repository.move(em, customerId, 'deposit', amountCents, null),
    );
    this.cache.invalidate([customerId]);
    if (account !== undefined) return account;
    if ((await this.repository.findAccount(this.repository.manager, customerId)) === undefined) {
      throw new ProblemException(404, `no account for customer ${customerId}`);
    }
    throw new ProblemException(
      422,
      `depositing ${amountCents} would pass the cap of ${DEPOSITED_CENTS_MAX} cents ever deposited`,
    );
  }

  async listLedger(customerId: string, cursor: string | undefined, limit: number): Promise<Page<LedgerRow>> {
    await this.getAccount(customerId);
    const afterId = cursor === undefined ? 0 : cursorId(cursor);
    const items = await this.repository.listLedger(this.repository.manager, customerId, afterId, limit);
    return pageOf(items, limit, (entry) => entry.id);
  }

  // --- Saga: hold, release, capture ----------------------------------------------------------------------------

  /** Moves the amount from balance to held. Refused for an unknown account or a short balance. */
  async hold(
    em: EntityManager,
    orderId: string,
    customerId: string,
    amountCents: number,
  ): Promise<Outcome<FundsHeld>> {
    return this.take(em, orderId, customerId, amountCents, 'hold');
  }

  /** Compensation of {@link hold}: a held amount goes back to balance. A no-op when nothing is held. */
  async release(em: EntityManager, orderId: string): Promise<Outcome<null>> {
    const settled = await this.settle(em, orderId, 'RELEASED', 'release');
    if (settled === undefined) return { reply: { ok: true, result: null } };
    return { reply: { ok: true, result: null }, customerId: settled };
  }

  /** After the saga's pivot: the held amount is charged. Idempotent; refused only if there is nothing to capture. */
  async capture(em: EntityManager, orderId: string): Promise<Outcome<null>> {
    const settled = await this.settle(em, orderId, 'CAPTURED', 'capture');
    if (settled !== undefined) return { reply: { ok: true, result: null }, customerId: settled };
    const existing = await this.repository.findHold(em, orderId);
    if (existing?.status === 'CAPTURED') return { reply: { ok: true, result: null } };
    const reason = existing === undefined ? refusal.noHold(orderId) : refusal.alreadyReleased(orderId);
    return { reply: { ok: false, reason } };
  }

  // --- Two-phase commit -----------------------------------------------------------------------------------------

  /** 2PC phase one's work: the final effect (balance charged, captured), kept by PREPARE TRANSACTION. */
  async prepareCharge(
    em: EntityManager,
    orderId: string,
    customerId: string,
    amountCents: number,
  ): Promise<Outcome<FundsHeld>> {
    return this.take(em, orderId, customerId, amountCents, 'charge');
  }

  invalidate(customerIds: Iterable<string>): void {
    this.cache.invalidate(customerIds);
  }

  private async take(
    em: EntityManager,
    orderId: string,
    customerId: string,
    amountCents: number,
    kind: 'hold' | 'charge',
  ): Promise<Outcome<FundsHeld>> {
    const status = kind === 'hold' ? 'HELD' : 'CAPTURED';
    const taken = await this.repository.takeForOrder(em, { orderId, customerId, amountCents }, kind, status);
    if (taken.outcome === 'repeat') {
      // A repeat of the same order: answer the first hold (the inbox catches re-sends; this catches new ids).
      if (taken.hold.status === 'RELEASED')
        return { reply: { ok: false, reason: refusal.alreadyReleased(orderId) } };
      return { reply: { ok: true, result: { holdId: taken.hold.holdId } } };
    }
    if (taken.outcome === 'short') {
      const current = await this.repository.findAccount(em, customerId);
      const reason =
        current === undefined
          ? refusal.unknownAccount(customerId)
          : refusal.insufficientFunds(customerId, amountCents, current.balanceCents);
      return { reply: { ok: false, reason } };
    }
    return { reply: { ok: true, result: { holdId: taken.hold.holdId } }, customerId };
  }

  /**
   * Ends the order's HELD hold as `kind` says; answers its customer, or undefined when nothing was held. The move
   * is one the hold's own state guarantees: failing means the data broke an invariant, so it throws.
   */
  private async settle(
    em: EntityManager,
    orderId: string,
    to: 'CAPTURED' | 'RELEASED',
    kind: 'capture' | 'release',
  ): Promise<string | undefined> {
    const settled = await this.repository.settleHold(em, orderId, to, kind);
    if (settled === undefined) return undefined;
    if (!settled.moved)
      throw new Error(`account ${settled.customerId} cannot ${kind} the hold of order ${orderId}`);
    return settled.customerId;
  }
}
