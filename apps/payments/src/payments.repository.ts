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
    const { sets, guard } = moveClauses(kind, '$2');
    const moved = await rows<AccountView>(
      em,
      `WITH a AS (UPDATE accounts SET ${sets} WHERE customer_id = $1${guard} RETURNING *),
            l AS (${ledgerInsert('a', '$3', '$4', '$2')})
       SELECT ${accountColumns} FROM a`,
      [customerId, amountCents, orderId, kind],
    );
    return moved[0];
  }

  /**
   * The work of a hold (or a 2PC charge) in one statement: unless the order already has a hold, moves the amount
   * as `kind` says, writes its ledger entry and the order's hold with `status`. Answers the order's earlier hold
   * (`repeat`), the new one (`taken`), or `short` when the account is missing or its balance does not cover it.
   */
  async takeForOrder(
    em: EntityManager,
    hold: { orderId: string; customerId: string; amountCents: number },
    kind: 'hold' | 'charge',
    status: HoldStatus,
  ): Promise<
    { outcome: 'repeat' | 'taken'; hold: Pick<HoldRow, 'holdId' | 'status'> } | { outcome: 'short' }
  > {
    const { sets, guard } = moveClauses(kind, '$3');
    const found = await rows<{ holdId: string; status: HoldStatus; repeat: boolean }>(
      em,
      `WITH earlier AS (SELECT id, status FROM holds WHERE order_id = $1),
            a AS (UPDATE accounts SET ${sets}
                  WHERE customer_id = $2${guard} AND NOT EXISTS (SELECT 1 FROM earlier) RETURNING *),
            l AS (${ledgerInsert('a', '$1', '$4', '$3')}),
            h AS (INSERT INTO holds (order_id, customer_id, amount_cents, status)
                  SELECT $1, customer_id, $3, $5 FROM a RETURNING id, status)
       SELECT id AS "holdId", status, true AS repeat FROM earlier
       UNION ALL SELECT id, status, false FROM h`,
      [hold.orderId, hold.customerId, hold.amountCents, kind, status],
    );
    const row = found[0];
    if (row === undefined) return { outcome: 'short' };
    return { outcome: row.repeat ? 'repeat' : 'taken', hold: { holdId: row.holdId, status: row.status } };
  }

  /**
   * Ends the order's HELD hold with `to`, moving its amount as `kind` says (capture: held → captured; release:
   * held → balance) with its ledger entry, in one statement. Answers the hold's customer and whether the account
   * covered the move (it must: a hold's amount is in its account's held counter), or undefined when the order has
   * no HELD hold.
   */
  async settleHold(
    em: EntityManager,
    orderId: string,
    to: 'CAPTURED' | 'RELEASED',
    kind: 'capture' | 'release',
  ): Promise<{ customerId: string; moved: boolean } | undefined> {
    const { sets, guard } = moveClauses(kind, 'h.amount_cents');
    const settled = await rows<{ customerId: string; moved: boolean }>(
      em,
      `WITH h AS (UPDATE holds SET status = $2, updated_at = now() WHERE order_id = $1 AND status = 'HELD'
                  RETURNING customer_id, amount_cents),
            a AS (UPDATE accounts SET ${sets} FROM h
                  WHERE accounts.customer_id = h.customer_id${guard} RETURNING accounts.*, h.amount_cents AS moved_cents),
            l AS (${ledgerInsert('a', '$1', '$3', 'moved_cents')})
       SELECT customer_id AS "customerId", EXISTS (SELECT 1 FROM a) AS moved FROM h`,
      [orderId, to, kind],
    );
    return settled[0];
  }

  async findHold(em: EntityManager, orderId: string): Promise<HoldRow | undefined> {
    const found = await rows<HoldRow>(em, `SELECT ${holdColumns} FROM holds WHERE order_id = $1`, [orderId]);
    return found[0];
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

/**
 * The SET list and the guard of a move of `amount` (a parameter or a column) as MOVES says: the guard keeps the
 * source counter from going negative, and a deposit under the cumulative cap.
 */
function moveClauses(kind: LedgerKind, amount: string): { sets: string; guard: string } {
  const move = MOVES[kind];
  const sets = [`${column[move.to]} = ${column[move.to]} + ${amount}`];
  if (move.from !== undefined) sets.push(`${column[move.from]} = ${column[move.from]} - ${amount}`);
  if (move.alsoRaises !== undefined)
    sets.push(`${column[move.alsoRaises]} = ${column[move.alsoRaises]} + ${amount}`);
  const guard =
    move.from !== undefined
      ? ` AND ${column[move.from]} >= ${amount}`
      : kind === 'deposit'
        ? ` AND deposited_cents + ${amount} <= ${DEPOSITED_CENTS_MAX}`
        : '';
  return { sets: sets.join(', '), guard };
}

/** The ledger entry of a move, from the changed account rows of CTE `from` (counters after the move). */
function ledgerInsert(from: string, orderId: string, kind: string, amount: string): string {
  return `INSERT INTO ledger (customer_id, order_id, kind, amount_cents, balance_after_cents, held_after_cents,
                              captured_after_cents)
          SELECT customer_id, ${orderId}, ${kind}, ${amount}, balance_cents, held_cents, captured_cents FROM ${from}`;
}
