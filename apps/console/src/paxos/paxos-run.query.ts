import { runSingleDecree, type PaxosRun } from '@concord/paxos';
import { z } from 'zod';

/**
 * GET /console/api/paxos: a seeded single-decree Paxos run from libs/paxos's simulator, as a timeline of its
 * messages (prepare, promise, accept, accepted, nack) and the moment a value is chosen. Server-side, bounded (at
 * most 400 events, 2 s of simulated time) and deterministic: the same query always returns the same run.
 */
export const paxosRunQuery = z
  .object({
    seed: z.coerce
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .default(1),
    acceptors: z.coerce.number().int().min(3).max(7).default(3),
    proposers: z.coerce.number().int().min(1).max(3).default(1),
    drop: z.coerce.number().int().min(0).max(50).default(0),
  })
  .strict();

export type PaxosRunQuery = z.infer<typeof paxosRunQuery>;

export function paxosRun(query: PaxosRunQuery): PaxosRun {
  return runSingleDecree({
    seed: query.seed,
    acceptors: query.acceptors,
    proposers: query.proposers,
    dropPercent: query.drop,
  });
}
