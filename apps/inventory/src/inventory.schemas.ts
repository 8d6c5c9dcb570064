import { pageQuery } from '@concord/saga';
import { z } from 'zod';

/** Request shapes of the inventory API; each mismatch is a 400 problem body naming the field (ZodPipe). */

export const QTY_MAX = 1_000_000;
export const PAGE_LIMIT_MAX = 500;

export const sku = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1 to 64 letters, digits, ".", "_" or "-"')
  .describe('Stock keeping unit.');

export const skuParams = z.object({ sku });
export type SkuParams = z.infer<typeof skuParams>;

export const createProductBody = z.strictObject({
  sku,
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  priceCents: z
    .number()
    .int('must be an integer')
    .min(0, 'must be >= 0')
    .max(100_000_000, 'must be <= 100000000'),
  stock: z.number().int('must be an integer').min(0, 'must be >= 0').max(QTY_MAX, `must be <= ${QTY_MAX}`),
});
export type CreateProductBody = z.infer<typeof createProductBody>;

export const receiptBody = z.strictObject({
  qty: z.number().int('must be an integer').min(1, 'must be >= 1').max(QTY_MAX, `must be <= ${QTY_MAX}`),
});
export type ReceiptBody = z.infer<typeof receiptBody>;

export const listQuery = pageQuery(PAGE_LIMIT_MAX);
export type ListQuery = z.infer<typeof listQuery>;
