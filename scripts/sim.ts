/**
 * The simulators' command line (Raft by default, Multi-Paxos with --protocol multipaxos).
 *   npm run sim -- --seeds N [--from S] [--safety-ms MS]   soak N seeds (random unless --from)
 *   npm run sim -- --seed S [--trace]                       replay one seed, optionally printing its faults
 *   npm run sim -- --protocol multipaxos [--no-leader-election] --seeds N | --seed S
 *   npm run sim -- --duel                                   dueling proposers, leader election off then on
 *   npm run sim -- --compare raft,multipaxos --seeds 200 [--from S] [--json]
 * A failing seed prints the command that replays it, and the process exits 1.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  formatComparison,
  PAXOS_DEFAULT_LIVENESS_MS,
  PAXOS_DEFAULT_SAFETY_MS,
  paxosReplayCommand,
  protocols,
  runComparison,
  runDuel,
  runPaxosSimulation,
  summarize,
  type ComparisonRun,
  type Protocol,
} from '@concord/paxos';
import {
  DEFAULT_LIVENESS_MS,
  DEFAULT_SAFETY_MS,
  replayCommand,
  runSimulation,
  type SimulationResult,
} from '@concord/raft';

interface Run {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure?: string;
  readonly nodes: number;
  readonly operations: number;
  readonly events: number;
  readonly line: string;
}

const OPTIONS = {
  seeds: { type: 'string' },
  seed: { type: 'string' },
  from: { type: 'string' },
  'safety-ms': { type: 'string' },
  'liveness-ms': { type: 'string' },
  trace: { type: 'boolean', default: false },
  protocol: { type: 'string', default: 'raft' },
  'no-leader-election': { type: 'boolean', default: false },
  duel: { type: 'boolean', default: false },
  compare: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

const USAGE = `usage:
  npm run sim -- --seeds N [--from S] [--safety-ms MS] [--liveness-ms MS] [--protocol raft|multipaxos]
  npm run sim -- --seed S [--trace] [--protocol raft|multipaxos] [--no-leader-election]
  npm run sim -- --duel
  npm run sim -- --compare raft,multipaxos --seeds N [--from S] [--json]`;

function main(): number {
  let parsed;
  try {
    parsed = parseArgs({ options: OPTIONS });
  } catch (e) {
    console.error(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  for (const name of ['seeds', 'seed', 'from', 'safety-ms', 'liveness-ms'] as const) {
    const v = values[name];
    if (v !== undefined && !/^\d+$/.test(v)) {
      console.error(`--${name} must be a non-negative integer, not ${JSON.stringify(v)}\n${USAGE}`);
      return 2;
    }
  }
  if (values.duel) return duel();
  if (values.compare !== undefined) return compare(values.compare, values.seeds, values.from, values.json);
  const paxos = values.protocol === 'multipaxos';
  if (!paxos && values.protocol !== 'raft') {
    console.error(`--protocol must be raft or multipaxos, not ${values.protocol}`);
    return 2;
  }
  const leaderElection = !values['no-leader-election'];
  const defaults = paxos
    ? { safety: PAXOS_DEFAULT_SAFETY_MS, liveness: PAXOS_DEFAULT_LIVENESS_MS }
    : { safety: DEFAULT_SAFETY_MS, liveness: DEFAULT_LIVENESS_MS };
  const safetyMs = values['safety-ms'] !== undefined ? Number(values['safety-ms']) : defaults.safety;
  const livenessMs = values['liveness-ms'] !== undefined ? Number(values['liveness-ms']) : defaults.liveness;
  const trace = values.trace ? (l: string) => console.log(l) : undefined;
  const run = (seed: number, withTrace: boolean): Run =>
    paxos
      ? paxosRun(seed, safetyMs, livenessMs, leaderElection, withTrace ? trace : undefined)
      : raftRun(seed, safetyMs, livenessMs, withTrace ? trace : undefined);

  if (values.seed !== undefined) {
    const r = run(Number(values.seed), true);
    console.log(r.line);
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
    const r = run(seed, false);
    operations += r.operations;
    events += r.events;
    if (!r.ok) {
      failed++;
      console.log(r.line);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${paxos ? 'multipaxos: ' : ''}${count} seeds from ${from}: ${count - failed} passed, ${failed} failed; ` +
      `${operations} client operations, ${events} events in ${seconds.toFixed(1)} s`,
  );
  return failed === 0 ? 0 : 1;
}

function raftRun(
  seed: number,
  safetyMs: number,
  livenessMs: number,
  trace: ((l: string) => void) | undefined,
): Run {
  const r: SimulationResult = runSimulation(seed, { safetyMs, livenessMs, ...(trace ? { trace } : {}) });
  const line = r.ok
    ? `seed ${r.seed}: ok (${r.nodes} nodes, ${r.virtualMs} virtual ms, ${r.events} events, ${r.faults} faults, ` +
      `${r.operations} operations, ${r.unknownOutcomes} unknown, committed ${r.committedIndex}, linearizable)`
    : `seed ${r.seed}: FAILED (${r.nodes} nodes)\n${r.failure ?? ''}\nreplay: ${replayCommand(r.seed, safetyMs, livenessMs)}`;
  return { ...r, line };
}

function paxosRun(
  seed: number,
  safetyMs: number,
  livenessMs: number,
  leaderElection: boolean,
  trace: ((l: string) => void) | undefined,
): Run {
  const r = runPaxosSimulation(seed, { safetyMs, livenessMs, leaderElection, ...(trace ? { trace } : {}) });
  const line = r.ok
    ? `seed ${r.seed}: ok (multipaxos, ${r.nodes} nodes, ${r.virtualMs} virtual ms, ${r.events} events, ` +
      `${r.faults} faults, ${r.operations} operations, ${r.unknownOutcomes} unknown, chosen ${r.chosenSlots} slots, linearizable)`
    : `seed ${r.seed}: FAILED (multipaxos, ${r.nodes} nodes)\n${r.failure ?? ''}\n` +
      `replay: ${paxosReplayCommand(r.seed, safetyMs, livenessMs, leaderElection)}`;
  return { ...r, line };
}

function duel(): number {
  const off = runDuel(false);
  const on = runDuel(true);
  for (const r of [off, on]) {
    console.log(
      `leader election ${r.leaderElection ? 'on ' : 'off'}: ${r.chosen} of ${r.submitted} commands chosen in ` +
        `${r.virtualMs} virtual ms; ${r.phase1Runs} phase-1 rounds, ${r.nacks} refusals, ${r.messages} messages`,
    );
  }
  const livelocked = off.chosen === 0 && on.chosen > 0;
  console.log(
    livelocked ? 'dueling proposers: livelock without a leader, none with one' : 'no livelock shown',
  );
  return livelocked ? 0 : 1;
}

function compare(
  list: string,
  seedsArg: string | undefined,
  fromArg: string | undefined,
  json: boolean,
): number {
  const chosen = list.split(',').map((p) => p.trim());
  const bad = chosen.filter((p) => !protocols.includes(p as Protocol));
  if (bad.length > 0 || chosen.length === 0) {
    console.error(`--compare takes a comma-separated list of ${protocols.join(', ')} (got ${list})`);
    return 2;
  }
  const count = Number(seedsArg ?? 200);
  const from = fromArg !== undefined ? Number(fromArg) : 1;
  const runs = new Map<Protocol, ComparisonRun[]>(chosen.map((p) => [p as Protocol, []]));
  const started = performance.now();
  // Interleaved by seed: both protocols see each seed's workload and fault schedule back to back.
  for (let seed = from; seed < from + count; seed++) {
    for (const p of runs.keys()) {
      const r = runComparison(p, seed);
      runs.get(p)!.push(r);
      if (!r.ok)
        console.log(
          `${p} seed ${seed}: ${r.failure ?? `${r.lost} acknowledged commands lost`} (replay: npm run sim -- --compare ${p} --seeds 1 --from ${seed})`,
        );
    }
  }
  const rows = [...runs].map(([p, rs]) => summarize(p, rs));
  console.log(
    `${count} seeds from ${from}, the same workload and fault schedule per seed for each protocol ` +
      `(medians; rounds on a clean network with a fixed delay) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(formatComparison(rows));
  if (json) console.log(JSON.stringify({ seeds: count, from, rows }));
  return rows.every((r) => r.failed === 0 && r.lost === 0) ? 0 : 1;
}

process.exitCode = main();
