import { baseConfigShape, env, serviceConfigShape } from '@concord/platform';
import { z } from 'zod';

export const inventoryConfigSchema = z.object({
  ...baseConfigShape,
  ...serviceConfigShape,
  PORT: env.port('HTTP port of this inventory instance.', 8201),
  DATABASE_POOL_SIZE: env.int('Connections to the database this instance may open.', 20, 1, 500),
  CACHE_MAX_ENTRIES: env.int(
    "Products kept in this instance's read cache (LRU); 0 disables it.",
    10_000,
    0,
    1_000_000,
  ),
  CACHE_TTL_MS: env.int(
    'How long a cached product is served; other instances may have written since, so keep it short.',
    1_000,
    0,
    60_000,
  ),
  RESERVATION_TTL_MS: env.int(
    'How long a saga reservation holds stock before the expiry sweeper releases it; longer than any saga deadline.',
    600_000,
    1_000,
  ),
  RESERVATION_SWEEP_INTERVAL_MS: env.int(
    'How often expired reservations are looked for; 0 disables the sweeper.',
    5_000,
    0,
  ),
});

export type InventoryConfig = z.infer<typeof inventoryConfigSchema>;
