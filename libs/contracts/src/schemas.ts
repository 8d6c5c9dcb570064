import { z } from 'zod';
import { LIMITS } from './limits.js';

/**
 * Runtime schemas of every message on NATS, built from {@link LIMITS}. The types in messages.ts are inferred from
 * them, so a field cannot be checked one way and typed another. Objects are strict: an unknown field is refused,
 * not ignored (a publisher that disagrees about the shape should hear about it).
 */

export const orderId = z
  .string()
  .regex(
    new RegExp(`^[A-Za-z0-9_-]{1,${LIMITS.orderIdLengthMax}}$`),
    `must be 1 to ${LIMITS.orderIdLengthMax} letters, digits, "-" or "_"`,
  );
export const customerId = z
  .string()
  .regex(
    new RegExp(`^[A-Za-z0-9._:-]{1,${LIMITS.customerIdLengthMax}}$`),
    `must be 1 to ${LIMITS.customerIdLengthMax} letters, digits, ".", "_", ":" or "-"`,
  );
export const sku = z
  .string()
  .regex(
    new RegExp(`^[A-Za-z0-9._-]{1,${LIMITS.skuLengthMax}}$`),
    `must be 1 to ${LIMITS.skuLengthMax} letters, digits, ".", "_" or "-"`,
  );
const count = (min: number, max: number) =>
  z.number().int('must be an integer').min(min, `must be >= ${min}`).max(max, `must be <= ${max}`);
export const lineQty = count(1, LIMITS.lineQtyMax);
export const stockQty = count(0, LIMITS.stockQtyMax);
export const priceCents = count(0, LIMITS.priceCentsMax);
export const amountCents = count(0, LIMITS.amountCentsMax);
export const reason = z.string().max(LIMITS.reasonLengthMax);

export const orderLine = z.strictObject({ sku, qty: lineQty });
export const orderLines = z
  .array(orderLine)
  .min(1, 'must have at least one line')
  .max(LIMITS.orderLinesMax, `must have at most ${LIMITS.orderLinesMax} lines`);
export const pricedLine = z.strictObject({ sku, qty: lineQty, priceCents });

// --- inventory ---------------------------------------------------------------------------------------------
export const reserveStock = z.strictObject({ orderId, items: orderLines });
export const stockReserved = z.strictObject({ lines: z.array(pricedLine), totalCents: amountCents });
/** Compensation of ReserveStock, or the abort of a prepared reservation. */
export const releaseStock = z.strictObject({ orderId });
/** Turns the order's reservations into sales. */
export const commitStock = z.strictObject({ orderId });

// --- payments ----------------------------------------------------------------------------------------------
export const holdFunds = z.strictObject({ orderId, customerId, amountCents });
export const fundsHeld = z.strictObject({ holdId: z.string() });
export const releaseFunds = z.strictObject({ orderId });
export const captureFunds = z.strictObject({ orderId });

// --- orders ------------------------------------------------------------------------------------------------
export const settleOrder = z.strictObject({
  orderId,
  status: z.enum(['CONFIRMED', 'CANCELLED']),
  totalCents: amountCents.optional(),
  reason: reason.optional(),
});

// --- two-phase commit --------------------------------------------------------------------------------------
const envelopeId = z.string().min(1).max(LIMITS.envelopeIdLengthMax);
/** A 2PC gid, `<service>:<transactionId>` (the participant kit checks it belongs to it). */
export const gid = envelopeId;
export const decide = z.strictObject({ gid });
export const decisionQuery = z.strictObject({ gid, transactionId: envelopeId });
export const decision = z.strictObject({ decision: z.enum(['commit', 'abort']) });
/** Phase one: the operation a participant prepares, in a `Prepare` around it. */
export function prepare<Op extends z.ZodType>(operation: Op) {
  return z.strictObject({ gid, operation });
}

// --- orchestrator ------------------------------------------------------------------------------------------
export const placeOrderInput = z.strictObject({ orderId, customerId, items: orderLines });
/**
 * Start a workflow. `input` is checked by the workflow named by `type` and `mode` (place-order's is
 * {@link placeOrderInput}): the orchestrator hosts whichever workflows its app registers.
 */
export const startTransaction = z.strictObject({
  /** Idempotency key: a repeat with the same key returns the same transaction. */
  idempotencyKey: envelopeId,
  type: z.string().regex(/^[a-z0-9-]{1,64}$/, 'must be 1 to 64 of [a-z0-9-]'),
  mode: z.enum(['saga', '2pc']),
  input: z.unknown(),
});

/** The envelope every participant command travels in (see CommandEnvelope). */
export function commandEnvelope<P extends z.ZodType>(payload: P) {
  return z.strictObject({
    messageId: envelopeId,
    transactionId: envelopeId,
    step: envelopeId,
    fencingToken: z.number().int().min(0).optional(),
    payload,
  });
}

/** The payload schema of each participant command subject: what a NATS handler checks before any work. */
export const COMMAND_PAYLOADS = {
  'inventory.reserve': reserveStock,
  'inventory.release': releaseStock,
  'inventory.commit': commitStock,
  'payments.hold': holdFunds,
  'payments.release': releaseFunds,
  'payments.capture': captureFunds,
  'orders.settle': settleOrder,
  'inventory.2pc.prepare': prepare(reserveStock),
  'inventory.2pc.commit': decide,
  'inventory.2pc.abort': decide,
  'payments.2pc.prepare': prepare(holdFunds),
  'payments.2pc.commit': decide,
  'payments.2pc.abort': decide,
} as const;

/** Turns zod issues into one line naming each field: `items.0.qty: must be <= 1000; orderId: ...`. */
export function describeIssues(error: z.ZodError, root = '(payload)'): string {
  return error.issues.map((i) => `${i.path.join('.') || root}: ${i.message}`).join('; ');
}
