/**
 * The Raft simulator's command line.
 *   npm run sim -- --seeds N [--from S] [--safety-ms MS]   soak N seeds (random unless --from)
 *   npm run sim -- --seed S [--trace]                       replay one seed, optionally printing its faults
 * A failing seed prints the command that replays it, and the process exits 1.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  DEFAULT_LIVENESS_MS,
  DEFAULT_SAFETY_MS,
  replayCommand,
  runSimulation,
  type SimulationResult,
} from '@concord/raft';

function main(): number {
  const { values } = parseArgs({
    options: {
      seeds: { type: 'string' },
      seed: { type: 'string' },
      from: { type: 'string' },
      'safety-ms': { type: 'string' },
      'liveness-ms': { type: 'string' },
      trace: { type: 'boolean', default: false },
    },
  });
  const safetyMs = values['safety-ms'] !== undefined ? Number(values['safety-ms']) : DEFAULT_SAFETY_MS;
  const livenessMs =
    values['liveness-ms'] !== undefined ? Number(values['liveness-ms']) : DEFAULT_LIVENESS_MS;
  const options = { safetyMs, livenessMs };

  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    const r = runSimulation(seed, {
      ...options,
      ...(values.trace ? { trace: (l: string) => console.log(l) } : {}),
    });
    report(r, safetyMs, livenessMs);
    return r.ok ? 0 : 1;
  }
  const count = Number(values.seeds ?? 100);
  // Seeds of a soak are random (the point is new ground); each failure prints its own replay.
  const from = values.from !== undefined ? Number(values.from) : randomInt(1, 2 ** 31);
  const started = performance.now();
  let failed = 0;
  let operations = 0;
  let events = 0;
  for (let seed = from; seed < from + count; seed++) {
    const r = runSimulation(seed, options);
    operations += r.operations;
    events += r.events;
    if (!r.ok) {
      failed++;
      report(r, safetyMs, livenessMs);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${count} seeds from ${from}: ${count - failed} passed, ${failed} failed; ${operations} client operations, ` +
      `${events} events in ${seconds.toFixed(1)} s`,
  );
  return failed === 0 ? 0 : 1;
}

function report(r: SimulationResult, safetyMs: number, livenessMs: number): void {
  if (r.ok) {
    console.log(
      `seed ${r.seed}: ok (${r.nodes} nodes, ${r.virtualMs} virtual ms, ${r.events} events, ${r.faults} faults, ` +
        `${r.operations} operations, ${r.unknownOutcomes} unknown, committed ${r.committedIndex}, linearizable)`,
    );
    return;
  }
  console.log(`seed ${r.seed}: FAILED (${r.nodes} nodes)\n${r.failure ?? ''}`);
  console.log(`replay: ${replayCommand(r.seed, safetyMs, livenessMs)}`);
}

process.exitCode = main();
