import { Injectable } from '@nestjs/common';
import { ParticipantRepository, selectRows as rows } from '@concord/saga';
import type { EntityManager } from 'typeorm';
import { type AccountView, type Counter, MOVES } from './funds.js';
import type { HoldStatus } from './hold.entity.js';
import type { LedgerKind } from './ledger-entry.entity.js';
import { DEPOSITED_CENTS_MAX } from './migrations/1767400000000-payments-caps.js';

export interface HoldRow {
  readonly holdId: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly amountCents: number;
  readonly status: HoldStatus;
}

export interface LedgerRow {
  readonly id: number;
  readonly orderId: string | null;
  readonly kind: LedgerKind;
  readonly amountCents: number;
  readonly balanceAfterCents: number;
  readonly heldAfterCents: number;
  readonly capturedAfterCents: number;
  readonly createdAt: string;
}

const column: Record<Counter, string> = {
  balance: 'balance_cents',
  held: 'held_cents',
  captured: 'captured_cents',
  deposited: 'deposited_cents',
};
// Money is bigint cents under a cumulative cap (DEPOSITED_CENTS_MAX < 2^53), so float8 carries it exactly.
const accountColumns = `customer_id AS "customerId", balance_cents::float8 AS "balanceCents",
  held_cents::float8 AS "heldCents", captured_cents::float8 AS "capturedCents",
  deposited_cents::float8 AS "depositedCents"`;
const holdColumns = `id AS "holdId", order_id AS "orderId", customer_id AS "customerId",
  amount_cents::float8 AS "amountCents", status`;

/**
 * The only class that touches the payments database. Every method takes the EntityManager of the transaction it
 * runs in. A change of an account's counters and its ledger entry are one statement, conditional on the source
 * counter covering the amount: "balance never negative" holds without a read-modify-write race.
 */
@Injectable()
export class PaymentsRepository extends ParticipantRepository {
  async findAccount(em: EntityManager, customerId: string): Promise<AccountView | undefined> {
    const found = await rows<AccountView>(
      em,
      `SELECT ${accountColumns} FROM accounts WHERE customer_id = $1`,
      [customerId],
    );
    return found[0];
  }

  /** Undefined when the account exists. */
  async insertAccount(em: EntityManager, customerId: string): Promise<AccountView | undefined> {
    const inserted = await rows<AccountView>(
      em,
      `INSERT INTO accounts (customer_id) VALUES ($1) ON CONFLICT (customer_id) DO NOTHING RETURNING ${accountColumns}`,
      [customerId],
    );
    return inserted[0];
  }

  /**
   * Moves `amountCents` as ledger kind `kind` says (see MOVES) and writes the ledger entry, in one statement.
   * Undefined when the account does not exist or its source counter is short.
   */
  async move(
    em: EntityManager,
    customerId: string,
    kind: LedgerKind,
    amountCents: number,
    orderId: string | null,
  ): Promise<AccountView | undefined> {
    const move = MOVES[kind];
    const sets = [`${column[move.to]} = ${column[move.to]} + $2`];
    if (move.from !== undefined) sets.push(`${column[move.from]} = ${column[move.from]} - $2`);
    if (move.alsoRaises !== undefined)
      sets.push(`${column[move.alsoRaises]} = ${column[move.alsoRaises]} + $2`);
    const guard =
      move.from !== undefined
        ? ` AND ${column[move.from]} >= $2`
        : kind === 'deposit'
          ? ` AND deposited_cents + $2 <= ${DEPOSITED_CENTS_MAX}`
          : '';
    const moved = await rows<AccountView>(
      em,
      `WITH a AS (UPDATE accounts SET ${sets.join(', ')} WHERE customer_id = $1${guard} RETURNING *),
            l AS (INSERT INTO ledger (customer_id, order_id, kind, amount_cents, balance_after_cents,
                                      held_after_cents, captured_after_cents)
                  SELECT customer_id, $3, $4, $2, balance_cents, held_cents, captured_cents FROM a)
       SELECT ${accountColumns} FROM a`,
      [customerId, amountCents, orderId, kind],
    );
    return moved[0];
  }

  async findHold(em: EntityManager, orderId: string): Promise<HoldRow | undefined> {
    const found = await rows<HoldRow>(em, `SELECT ${holdColumns} FROM holds WHERE order_id = $1`, [orderId]);
    return found[0];
  }

  async insertHold(
    em: EntityManager,
    hold: { orderId: string; customerId: string; amountCents: number; status: HoldStatus },
  ): Promise<HoldRow> {
    const inserted = await rows<HoldRow>(
      em,
      `INSERT INTO holds (order_id, customer_id, amount_cents, status) VALUES ($1, $2, $3, $4) RETURNING ${holdColumns}`,
      [hold.orderId, hold.customerId, hold.amountCents, hold.status],
    );
    const row = inserted[0];
    if (row === undefined) throw new Error('INSERT ... RETURNING answered no row');
    return row;
  }

  /** Changes the order's hold from `from` to `to`; undefined when it was not in `from`. */
  async setHoldStatus(
    em: EntityManager,
    orderId: string,
    from: HoldStatus,
    to: HoldStatus,
  ): Promise<HoldRow | undefined> {
    const changed = await rows<HoldRow>(
      em,
      `WITH u AS (UPDATE holds SET status = $3, updated_at = now() WHERE order_id = $1 AND status = $2
                  RETURNING ${holdColumns})
       SELECT * FROM u`,
      [orderId, from, to],
    );
    return changed[0];
  }

  /** Ledger entries of one account, oldest first, after entry id `afterId` (exclusive). */
  listLedger(em: EntityManager, customerId: string, afterId: number, limit: number): Promise<LedgerRow[]> {
    return rows<LedgerRow>(
      em,
      `SELECT id::float8 AS id, order_id AS "orderId", kind, amount_cents::float8 AS "amountCents",
              balance_after_cents::float8 AS "balanceAfterCents", held_after_cents::float8 AS "heldAfterCents",
              captured_after_cents::float8 AS "capturedAfterCents", created_at AS "createdAt"
       FROM ledger WHERE customer_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
      [customerId, afterId, limit],
    );
  }
}

/** Rows of a statement (TypeORM answers `[rows, count]` for a bare UPDATE; statements here wrap them in WITH). */
