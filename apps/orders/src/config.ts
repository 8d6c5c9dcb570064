import { baseConfigShape, env, serviceConfigShape } from '@concord/platform';
import { z } from 'zod';

export const ordersConfigSchema = z.object({
  ...baseConfigShape,
  ...serviceConfigShape,
  PORT: env.port('HTTP port of this orders instance.', 8101),
  DATABASE_POOL_SIZE: env.int('Connections to the database this instance may open.', 20, 1, 500),
  ORCHESTRATOR_TIMEOUT_MS: env.int(
    'Deadline of one `orchestrator.start` request over NATS.',
    3_000,
    100,
    60_000,
  ),
  ORDER_WAIT_TIMEOUT_MS: env.int(
    'Longest `POST /v1/orders?wait=true` waits for the order to settle before answering 202 PENDING.',
    30_000,
    0,
    120_000,
  ),
  ORDER_WAIT_RECHECK_MS: env.int(
    'A `?wait=true` request is woken by the settle itself (pushed over NATS from the instance that took it); it also re-reads its order this often, in case an announcement was lost.',
    1_000,
    10,
    60_000,
  ),
  ORDER_RESEND_AFTER_MS: env.int(
    'A PENDING order whose last `orchestrator.start` is older than this is started again (idempotent).',
    10_000,
    100,
  ),
  ORDER_SWEEP_INTERVAL_MS: env.int(
    'How often PENDING orders are looked for; 0 disables the sweeper.',
    5_000,
    0,
  ),
});

export type OrdersConfig = z.infer<typeof ordersConfigSchema>;
