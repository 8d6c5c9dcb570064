import { z } from 'zod';

/** Request shapes of the payments API; each mismatch is a 400 problem body naming the field (ZodPipe). */

export const AMOUNT_CENTS_MAX = 100_000_000_000;
export const PAGE_LIMIT_MAX = 500;

export const customerId = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1 to 100 letters, digits, ".", "_", ":" or "-"')
  .describe('The customer who owns the account.');

export const customerParams = z.object({ customerId });
export type CustomerParams = z.infer<typeof customerParams>;

export const openAccountBody = z.strictObject({ customerId });
export type OpenAccountBody = z.infer<typeof openAccountBody>;

export const depositBody = z.strictObject({
  amountCents: z
    .number()
    .int('must be an integer')
    .min(1, 'must be >= 1')
    .max(AMOUNT_CENTS_MAX, `must be <= ${AMOUNT_CENTS_MAX}`),
});
export type DepositBody = z.infer<typeof depositBody>;

export const listQuery = z.strictObject({
  limit: z.coerce.number().int('must be an integer').min(1, 'must be >= 1').max(PAGE_LIMIT_MAX).default(50),
  cursor: z.string().min(1).max(200).optional(),
});
export type ListQuery = z.infer<typeof listQuery>;

const orderId = z.string().min(1).max(100);

/** NATS payloads are checked too: a malformed command is refused, never half applied. */
export const holdPayload = z.object({
  orderId,
  customerId: z.string().min(1).max(100),
  amountCents: z.number().int().min(0).max(AMOUNT_CENTS_MAX),
});
export const orderPayload = z.object({ orderId });
