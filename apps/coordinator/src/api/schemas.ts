import { z } from 'zod';

/** Limits of the API, as etcd's defaults in spirit: keys up to 1 KiB, values up to 1 MiB. */
export const KEY_BYTES_MAX = 1024;
export const VALUE_BYTES_MAX = 1024 * 1024;
/** Request bodies: a 1 MiB value plus JSON overhead. */
export const BODY_BYTES_MAX = VALUE_BYTES_MAX + 64 * 1024;

const leaseId = z.string().regex(/^[0-9a-f]{16}$/, 'must be a lease id (16 hex digits)');
const revision = z.coerce.number().int('must be an integer').min(0, 'must be ≥ 0');

export const putBody = z.strictObject({
  value: z.string({ message: 'must be a string' }),
  lease: leaseId.optional(),
  prevRevision: z.number({ message: 'must be a number' }).int().min(0).optional(),
});

export const deleteQuery = z.object({ prevRevision: revision.optional() });

export const getQuery = z.object({
  consistency: z
    .enum(['linearizable', 'serializable'], { message: 'must be linearizable or serializable' })
    .default('linearizable'),
});

export const rangeQuery = z.object({
  prefix: z.string().default(''),
  limit: z.coerce.number().int().min(1, 'must be ≥ 1').max(10_000, 'must be ≤ 10000').default(1_000),
  revision: revision.optional(),
  consistency: z.enum(['linearizable', 'serializable']).default('linearizable'),
});

const txnOp = z.union(
  [
    z.strictObject({
      put: z.strictObject({ key: z.string().min(1), value: z.string(), lease: leaseId.optional() }),
    }),
    z.strictObject({ get: z.strictObject({ key: z.string().min(1) }) }),
    z.strictObject({ delete: z.strictObject({ key: z.string().min(1) }) }),
  ],
  { message: 'must be {"put":{key,value,lease?}}, {"get":{key}} or {"delete":{key}}' },
);

export const txnBody = z.strictObject({
  compare: z
    .array(
      z.strictObject({
        key: z.string().min(1),
        target: z.enum(['value', 'version', 'modRevision', 'createRevision']),
        op: z.enum(['=', '!=', '<', '>']),
        value: z.union([z.string(), z.number()]),
      }),
    )
    .max(128)
    .default([]),
  success: z.array(txnOp).max(128).default([]),
  failure: z.array(txnOp).max(128).default([]),
});

export const watchQuery = z
  .object({
    key: z.string().min(1).optional(),
    prefix: z.string().optional(),
    fromRevision: z.coerce.number().int().min(1, 'must be ≥ 1').optional(),
  })
  .refine((q) => (q.key === undefined) !== (q.prefix === undefined), {
    message: 'give exactly one of key or prefix',
  });

export const leaseGrantBody = z.strictObject({
  ttlSeconds: z
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be ≥ 1')
    .max(86_400, 'must be ≤ 86400'),
});

export const leaseIdParam = leaseId;

export const lockBody = z.strictObject({
  lease: leaseId,
  waitMs: z.number().int().min(0).max(300_000, 'must be ≤ 300000').default(30_000),
  /** Who waits (an instance name): the lock key's value, so operators and the console see who holds it. */
  holder: z.string().max(256, 'must be at most 256 characters').default(''),
});

export const campaignBody = z.strictObject({
  lease: leaseId,
  value: z.string().max(64 * 1024),
  waitMs: z.number().int().min(0).max(3_600_000).default(3_600_000),
});

export const resignBody = z.strictObject({ key: z.string().min(1) });

export const name = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ -');

export const registerBody = z.strictObject({
  url: z.url({ message: 'must be a URL' }),
  zone: z.string().max(64).optional(),
  weight: z.number().positive().max(1000).optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
  lease: leaseId,
});

export const addMemberBody = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ -'),
  peerAddress: z.string().regex(/^[^:\s]+:\d{1,5}$/, 'must be host:port'),
  apiUrl: z.url(),
});
