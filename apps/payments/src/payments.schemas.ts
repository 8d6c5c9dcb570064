import { pageQuery } from '@concord/saga';
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

export const listQuery = pageQuery(PAGE_LIMIT_MAX);
export type ListQuery = z.infer<typeof listQuery>;
