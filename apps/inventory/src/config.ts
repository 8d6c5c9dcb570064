import { baseConfigShape, env, serviceConfigShape } from '@concord/platform';
import { z } from 'zod';

export const inventoryConfigSchema = z.object({
  ...baseConfigShape,
  ...serviceConfigShape,
  PORT: env.port('HTTP port of this inventory instance.', 8201),
});

export type InventoryConfig = z.infer<typeof inventoryConfigSchema>;
