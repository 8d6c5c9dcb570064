import { describe, expect, it } from 'vitest';
import { replayCommand, runSimulation } from './simulation.js';

/**
 * The CI soak: a thousand seeds, each a short run (faults, then healing and a progress check, then a
 * linearizability check of the clients' history). A failure names the seed and the replay command.
 */
const SEEDS = 1000;
const FIRST_SEED = 1;
/** Short runs so that a thousand fit well inside CI's time; `npm run sim` soaks longer ones. */
const SAFETY_MS = 500;
const LIVENESS_MS = 4000;

describe('deterministic simulation', () => {
  it('the same seed replays the same run', () => {
    const a = runSimulation(4242, { safetyMs: 300, livenessMs: 3000 });
    const b = runSimulation(4242, { safetyMs: 300, livenessMs: 3000 });
    expect(b).toEqual(a);
  });

  it(`${SEEDS} seeds keep every invariant, make progress once healed, and stay linearizable`, () => {
    const failures: string[] = [];
    let operations = 0;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const r = runSimulation(seed, { safetyMs: SAFETY_MS, livenessMs: LIVENESS_MS });
      operations += r.operations;
      if (!r.ok)
        failures.push(
          `seed ${seed}: ${r.failure?.split('\n')[0]} (replay: ${replayCommand(seed, SAFETY_MS, LIVENESS_MS)})`,
        );
    }
    expect(failures).toEqual([]);
    expect(operations).toBeGreaterThan(SEEDS * 5);
  });

  it('catches a driver that sends before its writes are durable (the checkers have teeth)', () => {
    const caught: string[] = [];
    for (let seed = 1; seed <= 200 && caught.length === 0; seed++) {
      const r = runSimulation(seed, {
        safetyMs: SAFETY_MS,
        livenessMs: LIVENESS_MS,
        unsafeSendBeforeSync: true,
      });
      if (!r.ok) caught.push(r.failure ?? '');
    }
    expect(caught).toHaveLength(1);
  });
});
