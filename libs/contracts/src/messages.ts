import type { z } from 'zod';
import type * as schemas from './schemas.js';

/**
 * Typed message map of every NATS subject Concord uses: one place maps each subject to its payload and reply,
 * so that a publisher and a handler cannot disagree. Subjects are `<service>.<verb>`; each service listens in a
 * queue group named after itself, so one instance handles each request.
 *
 * Every command travels in a {@link CommandEnvelope}. `messageId` is unique per logical command and stays the
 * same across re-sends: participants record it in their inbox in the same transaction as the business change,
 * and answer a duplicate with the first reply.
 */

export interface CommandEnvelope<P> {
  /** Unique per logical command; identical on every re-send. */
  readonly messageId: string;
  /** The saga or two-phase transaction this command belongs to. */
  readonly transactionId: string;
  /** The step name in the workflow that sent it (e.g. "reserve-stock"): for logs and traces, never a key. */
  readonly step: string;
  /** Fencing token of the orchestrator leader that sent it (informational for participants). */
  readonly fencingToken?: number;
  readonly payload: P;
}

/** A participant's answer. `ok: false` is a business refusal (out of stock...), never a transport failure. */
export type Reply<R> =
  { readonly ok: true; readonly result: R } | { readonly ok: false; readonly reason: string };

export type OrderLine = z.infer<typeof schemas.orderLine>;
export type PricedLine = z.infer<typeof schemas.pricedLine>;

// Payload types are inferred from the runtime schemas in schemas.ts: one definition, checked and typed alike.
// --- inventory ---------------------------------------------------------------------------------------------
export type ReserveStock = z.infer<typeof schemas.reserveStock>;
export type StockReserved = z.infer<typeof schemas.stockReserved>;
/** Compensation of ReserveStock, or the abort of a prepared reservation. */
export type ReleaseStock = z.infer<typeof schemas.releaseStock>;
/** Turns the order's reservations into sales. */
export type CommitStock = z.infer<typeof schemas.commitStock>;

// --- payments ----------------------------------------------------------------------------------------------
export type HoldFunds = z.infer<typeof schemas.holdFunds>;
export type FundsHeld = z.infer<typeof schemas.fundsHeld>;
export type ReleaseFunds = z.infer<typeof schemas.releaseFunds>;
export type CaptureFunds = z.infer<typeof schemas.captureFunds>;

// --- orders ------------------------------------------------------------------------------------------------
export type SettleOrder = z.infer<typeof schemas.settleOrder>;

// --- two-phase commit --------------------------------------------------------------------------------------
/**
 * Phase one: the participant does the work of `operation` in a local transaction and ends it with
 * `PREPARE TRANSACTION '<gid>'`. The gid is `<service>:<transactionId>`.
 */
export interface Prepare<Op> {
  readonly gid: string;
  readonly operation: Op;
}
export interface Prepared {
  readonly gid: string;
  /** What the prepared work computed (e.g. prices for the reservation). */
  readonly result: unknown;
}
export type Decide = z.infer<typeof schemas.decide>;
/** A participant that finds a prepared transaction of its own at start asks the coordinator of the decision. */
export type DecisionQuery = z.infer<typeof schemas.decisionQuery>;
/** Presumed abort: no durable commit decision means abort. */
export type Decision = z.infer<typeof schemas.decision>;

// --- orchestrator ------------------------------------------------------------------------------------------
export type StartTransaction = z.infer<typeof schemas.startTransaction>;
export type PlaceOrderInput = z.infer<typeof schemas.placeOrderInput>;
export interface TransactionStarted {
  readonly transactionId: string;
}

/**
 * Subject → [request payload, reply]. Handlers: `@MessagePattern(SUBJECTS.inventoryReserve)`.
 */
export interface MessageMap {
  'inventory.reserve': [CommandEnvelope<ReserveStock>, Reply<StockReserved>];
  'inventory.release': [CommandEnvelope<ReleaseStock>, Reply<null>];
  'inventory.commit': [CommandEnvelope<CommitStock>, Reply<null>];
  'payments.hold': [CommandEnvelope<HoldFunds>, Reply<FundsHeld>];
  'payments.release': [CommandEnvelope<ReleaseFunds>, Reply<null>];
  'payments.capture': [CommandEnvelope<CaptureFunds>, Reply<null>];
  'orders.settle': [CommandEnvelope<SettleOrder>, Reply<null>];
  'inventory.2pc.prepare': [CommandEnvelope<Prepare<ReserveStock>>, Reply<Prepared>];
  'inventory.2pc.commit': [CommandEnvelope<Decide>, Reply<null>];
  'inventory.2pc.abort': [CommandEnvelope<Decide>, Reply<null>];
  'payments.2pc.prepare': [CommandEnvelope<Prepare<HoldFunds>>, Reply<Prepared>];
  'payments.2pc.commit': [CommandEnvelope<Decide>, Reply<null>];
  'payments.2pc.abort': [CommandEnvelope<Decide>, Reply<null>];
  'orchestrator.start': [StartTransaction, Reply<TransactionStarted>];
  'orchestrator.2pc.decision': [DecisionQuery, Reply<Decision>];
}

export type Subject = keyof MessageMap;
export type RequestOf<S extends Subject> = MessageMap[S][0];
export type ReplyOf<S extends Subject> = MessageMap[S][1];

export const SUBJECTS = {
  inventoryReserve: 'inventory.reserve',
  inventoryRelease: 'inventory.release',
  inventoryCommit: 'inventory.commit',
  paymentsHold: 'payments.hold',
  paymentsRelease: 'payments.release',
  paymentsCapture: 'payments.capture',
  ordersSettle: 'orders.settle',
  inventoryPrepare: 'inventory.2pc.prepare',
  inventoryCommitPrepared: 'inventory.2pc.commit',
  inventoryAbortPrepared: 'inventory.2pc.abort',
  paymentsPrepare: 'payments.2pc.prepare',
  paymentsCommitPrepared: 'payments.2pc.commit',
  paymentsAbortPrepared: 'payments.2pc.abort',
  orchestratorStart: 'orchestrator.start',
  orchestratorDecision: 'orchestrator.2pc.decision',
} as const satisfies Record<string, Subject>;
