import type { LedgerKind } from './ledger-entry.entity.js';

/** An account as the API shows it. Invariant: balance + held + captured = deposited, each >= 0. */
export interface AccountView {
  readonly customerId: string;
  readonly balanceCents: number;
  readonly heldCents: number;
  readonly capturedCents: number;
  readonly depositedCents: number;
}

export type Counter = 'balance' | 'held' | 'captured' | 'deposited';

/**
 * How each kind of ledger entry moves money between an account's counters: `from` loses the amount (and must hold
 * at least that much: the refusal path), `to` gains it. A deposit comes from outside, so it raises deposited too.
 */
export const MOVES: Readonly<Record<LedgerKind, { from?: Counter; to: Counter; alsoRaises?: Counter }>> = {
  deposit: { to: 'balance', alsoRaises: 'deposited' },
  hold: { from: 'balance', to: 'held' },
  release: { from: 'held', to: 'balance' },
  capture: { from: 'held', to: 'captured' },
  charge: { from: 'balance', to: 'captured' },
};

/** Applies a move to counters in memory (the model the SQL follows; used by tests). Undefined when refused. */
export function applyMove(
  account: AccountView,
  kind: LedgerKind,
  amountCents: number,
): AccountView | undefined {
  const move = MOVES[kind];
  const next: Record<Counter, number> = {
    balance: account.balanceCents,
    held: account.heldCents,
    captured: account.capturedCents,
    deposited: account.depositedCents,
  };
  if (move.from !== undefined) {
    if (next[move.from] < amountCents) return undefined;
    next[move.from] -= amountCents;
  }
  next[move.to] += amountCents;
  if (move.alsoRaises !== undefined) next[move.alsoRaises] += amountCents;
  return {
    customerId: account.customerId,
    balanceCents: next.balance,
    heldCents: next.held,
    capturedCents: next.captured,
    depositedCents: next.deposited,
  };
}

export const refusal = {
  unknownAccount: (customerId: string) => `unknown account ${customerId}`,
  insufficientFunds: (customerId: string, wantedCents: number, balanceCents: number) =>
    `insufficient funds: account ${customerId} has ${balanceCents} cents, order needs ${wantedCents}`,
  alreadyReleased: (orderId: string) => `hold of order ${orderId} was already released`,
  noHold: (orderId: string) => `no hold for order ${orderId}`,
} as const;
