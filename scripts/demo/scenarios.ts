import type { DemoContext } from './context.js';
import { instanceFailure } from './scenarios/instance-failure.js';
import { leaderFailover } from './scenarios/leader-failover.js';
import { lockFencing } from './scenarios/lock-fencing.js';
import { partition } from './scenarios/partition.js';
import { orchestratorCrash } from './scenarios/orchestrator-crash.js';
import { sagaCompensation } from './scenarios/saga-compensation.js';
import { singletonJob } from './scenarios/singleton-job.js';
import { twoPhaseRecovery } from './scenarios/2pc-recovery.js';

export interface Scenario {
  readonly name: string;
  readonly summary: string;
  /** Whether it kills (and then restarts) a process of the stack. */
  readonly kills: boolean;
  readonly run: (ctx: DemoContext) => Promise<void>;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'leader-failover',
    summary: 'SIGKILL the Raft leader while writing; a new leader, no acknowledged write lost',
    kills: true,
    run: leaderFailover,
  },
  {
    name: 'lock-fencing',
    summary: "a lease expires, the next holder's larger token fences the stale holder out",
    kills: false,
    run: lockFencing,
  },
  {
    name: 'instance-failure',
    summary: 'SIGKILL an inventory instance under traffic; breaker opens, keys move, affinity kept',
    kills: true,
    run: instanceFailure,
  },
  {
    name: 'saga-compensation',
    summary: 'orders beyond stock or funds are CANCELLED; nothing stays reserved or held',
    kills: false,
    run: sagaCompensation,
  },
  {
    name: 'orchestrator-crash',
    summary: 'SIGKILL the leading orchestrator mid-saga; every order settles exactly once',
    kills: true,
    run: orchestratorCrash,
  },
  {
    name: '2pc-recovery',
    summary: 'SIGKILL a participant during 2PC orders; all settle, pg_prepared_xacts ends empty',
    kills: true,
    run: twoPhaseRecovery,
  },
  {
    name: 'singleton-job',
    summary:
      'SIGSTOP the reservation-expiry holder past its lease; another takes over, its stale writes are refused',
    kills: false,
    run: singletonJob,
  },
  {
    name: 'partition',
    summary:
      'cut a coordinator off from its peers: the minority refuses (503), the majority serves, the gateway routes stale',
    kills: false,
    run: partition,
  },
];

/** The scenario named on the command line, or undefined (pure). */
export function findScenario(argv: readonly string[]): Scenario | undefined {
  const names = argv.filter((a) => a !== '--');
  if (names.length !== 1) return undefined;
  return SCENARIOS.find((s) => s.name === names[0]);
}

export function usage(): string {
  const width = Math.max(...SCENARIOS.map((s) => s.name.length));
  return [
    'usage: npm run demo -- <scenario>      (against a running `npm run stack`)',
    '',
    'scenarios:',
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`),
    '',
    'Each demo narrates with timestamps, checks its own claims and ends with PASS (exit 0) or FAIL (exit 1).',
    'A process a demo kills is restarted with its own command line and environment; the stack stays whole.',
    'STACK_DATA_DIR: where the stack keeps its secrets (default .data).',
  ].join('\n');
}
