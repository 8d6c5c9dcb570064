import { baseConfigShape, env, serviceConfigShape } from '@concord/platform';
import { z } from 'zod';

export const paymentsConfigSchema = z.object({
  ...baseConfigShape,
  ...serviceConfigShape,
  PORT: env.port('HTTP port of this payments instance.', 8301),
});

export type PaymentsConfig = z.infer<typeof paymentsConfigSchema>;
