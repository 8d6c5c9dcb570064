import { z } from 'zod';

/** Request shapes of the orders API; each mismatch is a 400 problem body naming the field (ZodPipe). */

export const LINES_MAX = 50;
export const QTY_MAX = 1_000;
export const PAGE_LIMIT_MAX = 200;

const customerId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1 to 100 letters, digits, ".", "_", ":" or "-"');
const sku = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1 to 64 letters, digits, ".", "_" or "-"');

export const placeOrderBody = z.strictObject({
  customerId,
  items: z
    .array(
      z.strictObject({
        sku,
        qty: z
          .number()
          .int('must be an integer')
          .min(1, 'must be >= 1')
          .max(QTY_MAX, `must be <= ${QTY_MAX}`),
      }),
    )
    .min(1, 'must have at least one line')
    .max(LINES_MAX, `must have at most ${LINES_MAX} lines`),
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
export const settlePayload = z.object({
  orderId: z.string().min(1).max(100),
  status: z.enum(['CONFIRMED', 'CANCELLED']),
  totalCents: z.number().int().min(0).optional(),
  reason: z.string().max(1_000).optional(),
});
