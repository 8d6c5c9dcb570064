import { baseConfigShape, env, serviceConfigShape } from '@concord/platform';
import { z } from 'zod';

export const orchestratorConfigSchema = z.object({
  ...baseConfigShape,
  ...serviceConfigShape,
  PORT: env.port('HTTP port of this orchestrator instance.', 8401),
  SAGA_ATTEMPT_TIMEOUT_MS: env.int(
    'How long one attempt of a command before the pivot (or a 2PC prepare) waits for an answer.',
    2_000,
    10,
  ),
  SAGA_STEP_DEADLINE_MS: env.int(
    'A step before the pivot (or a prepare) unanswered this long is given up: the saga compensates, 2PC aborts.',
    15_000,
    10,
  ),
  SAGA_RETRIABLE_TIMEOUT_MS: env.int(
    'How long one attempt of a compensation, a step after the pivot or a 2PC phase-two command waits.',
    2_000,
    10,
  ),
  LEADER_LEASE_TTL_SECONDS: env.int(
    'Lease of the leading instance in the coordinator election: a leader frozen this long is replaced.',
    5,
    1,
    300,
  ),
  OUTBOX_RELAY_INTERVAL_MS: env.int(
    'How often the outbox relay publishes lifecycle events to JetStream.',
    200,
    10,
  ),
  OUTBOX_STREAM_REPLICAS: env.int(
    'JetStream replicas of the SAGA_EVENTS stream when the orchestrator creates it (3 on a 3-node NATS cluster).',
    1,
    1,
    5,
  ),
});

export type OrchestratorConfig = z.infer<typeof orchestratorConfigSchema>;
