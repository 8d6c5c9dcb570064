import { describe, expect, it } from 'vitest';
import { runDuel } from './dueling.js';
import { paxosReplayCommand, runPaxosSimulation } from './simulation.js';

/** The CI soak for Multi-Paxos: the Raft soak's fault model and length, a thousand seeds. */
const SEEDS = 1000;
const SAFETY_MS = 500;
const LIVENESS_MS = 4000;

describe('Multi-Paxos deterministic simulation', () => {
  it('the same seed replays the same run', () => {
    expect(runPaxosSimulation(4242, { safetyMs: 300, livenessMs: 3000 })).toEqual(
      runPaxosSimulation(4242, { safetyMs: 300, livenessMs: 3000 }),
    );
  });

  it(`${SEEDS} seeds keep every invariant, make progress once healed, and stay linearizable`, () => {
    const failures: string[] = [];
    let operations = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = runPaxosSimulation(seed, { safetyMs: SAFETY_MS, livenessMs: LIVENESS_MS });
      operations += r.operations;
      if (!r.ok)
        failures.push(
          `seed ${seed}: ${r.failure?.split('\n')[0]} (replay: ${paxosReplayCommand(seed, SAFETY_MS, LIVENESS_MS)})`,
        );
    }
    expect(failures).toEqual([]);
    expect(operations).toBeGreaterThan(SEEDS * 5);
  }, 180_000); // about 12 s on an idle core; generous for a loaded CI machine

  it('catches acceptors that answer before their promise or acceptance is durable (the checkers have teeth)', () => {
    let caught = '';
    for (let seed = 1; seed <= 50 && caught === ''; seed++) {
      const r = runPaxosSimulation(seed, {
        safetyMs: SAFETY_MS,
        livenessMs: LIVENESS_MS,
        unsafeSendBeforeSync: true,
      });
      if (!r.ok) caught = r.failure ?? '';
    }
    expect(caught).toMatch(/^invariant /);
  });

  it('dueling proposers livelock with leader election off, and the livelock disappears with it on', () => {
    const off = runDuel(false, 2000);
    const on = runDuel(true, 2000);
    expect(off.chosen).toBe(0);
    expect(off.phase1Runs).toBeGreaterThan(100);
    expect(on.chosen).toBeGreaterThan(100);
    expect(on.phase1Runs).toBe(1);
  });
});
