import { z } from 'zod';
import { schemas } from '@concord/contracts';

/** Request shapes of the orders API; each mismatch is a 400 problem body naming the field (ZodPipe). */

export const PAGE_LIMIT_MAX = 200;

// Ids, skus and line limits are the wire contract's (libs/contracts): the orchestrator and the participants check
// the same ones, so an order this API accepts is never refused downstream for a different cap.
const { customerId, orderLines } = schemas;

export const placeOrderBody = z.strictObject({
  customerId,
  items: orderLines,
  mode: z.enum(['saga', '2pc'], { message: 'must be "saga" or "2pc"' }),
});
export type PlaceOrderBody = z.infer<typeof placeOrderBody>;

export const placeOrderQuery = z.object({
  wait: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('false')
    .transform((v) => v === 'true'),
});
export type PlaceOrderQuery = z.infer<typeof placeOrderQuery>;

/** Headers of `POST /v1/orders` (others are ignored). */
export const placeOrderHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\w.:-]{1,200}$/, 'must be 1 to 200 of [A-Za-z0-9_.:-]')
    .optional(),
});
export type PlaceOrderHeaders = z.infer<typeof placeOrderHeaders>;

export const orderParams = z.object({ id: z.uuid({ message: 'must be a UUID' }) });
export type OrderParams = z.infer<typeof orderParams>;

export const listOrdersQuery = z.strictObject({
  customerId,
  limit: z.coerce.number().int('must be an integer').min(1, 'must be >= 1').max(PAGE_LIMIT_MAX).default(50),
  cursor: z.string().min(1).max(200).optional(),
});
export type ListOrdersQuery = z.infer<typeof listOrdersQuery>;

/** The orchestrator's verdict, checked like any input. */
export const settlePayload = schemas.settleOrder;
