import { baseConfigShape, env, serviceConfigShape } from '@concord/platform';
import { z } from 'zod';

export const paymentsConfigSchema = z.object({
  ...baseConfigShape,
  ...serviceConfigShape,
  PORT: env.port('HTTP port of this payments instance.', 8301),
  DATABASE_POOL_SIZE: env.int('Connections to the database this instance may open.', 20, 1, 500),
  CACHE_MAX_ENTRIES: env.int(
    "Accounts kept in this instance's read cache (LRU); 0 disables it.",
    10_000,
    0,
    1_000_000,
  ),
  CACHE_TTL_MS: env.int(
    'How long a cached account is served; other instances may have written since, so keep it short.',
    1_000,
    0,
    60_000,
  ),
});

export type PaymentsConfig = z.infer<typeof paymentsConfigSchema>;
