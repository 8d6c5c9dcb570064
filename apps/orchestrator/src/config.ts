import { baseConfigShape, env, serviceConfigShape } from '@concord/platform';
import { z } from 'zod';

export const orchestratorConfigSchema = z.object({
  ...baseConfigShape,
  ...serviceConfigShape,
  PORT: env.port('HTTP port of this orchestrator instance.', 8401),
});

export type OrchestratorConfig = z.infer<typeof orchestratorConfigSchema>;
