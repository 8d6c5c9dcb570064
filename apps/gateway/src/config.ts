import { baseConfigShape, env } from '@concord/platform';
import { z } from 'zod';

export const gatewayConfigSchema = z.object({
  ...baseConfigShape,
  PORT: env.port('HTTP port of the gateway.', 8080),
});

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
