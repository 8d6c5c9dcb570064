import { baseConfigShape, env, serviceConfigShape } from '@concord/platform';
import { z } from 'zod';

export const ordersConfigSchema = z.object({
  ...baseConfigShape,
  ...serviceConfigShape,
  PORT: env.port('HTTP port of this orders instance.', 8101),
});

export type OrdersConfig = z.infer<typeof ordersConfigSchema>;
