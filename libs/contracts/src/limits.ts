/**
 * One set of limits for every message Concord's services exchange: the orders API, the orchestrator's input check
 * and the participants' NATS handlers all validate against the schemas built from these, so a value one service
 * accepts is never refused by the next one for a different cap.
 */
export const LIMITS = {
  /** Order ids: letters, digits, "-" and "_" (orders writes UUIDs). */
  orderIdLengthMax: 120,
  /** Customer ids (also the subject of client tokens). */
  customerIdLengthMax: 100,
  skuLengthMax: 64,
  /** Lines of one order. */
  orderLinesMax: 50,
  /** Units of one order line. */
  lineQtyMax: 1_000,
  /** Units of one product's stock or of one receipt. */
  stockQtyMax: 1_000_000,
  /** Price of one unit. */
  priceCentsMax: 100_000_000,
  /** One amount of money moved at once (a hold, a deposit). */
  amountCentsMax: 100_000_000_000,
  /** A reason carried in a refusal or a cancellation. */
  reasonLengthMax: 1_000,
  /** Envelope fields: message and transaction ids, step names. */
  envelopeIdLengthMax: 200,
} as const;
