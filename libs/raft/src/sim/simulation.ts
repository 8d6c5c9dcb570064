import { Xoshiro128 } from '../core/prng.js';
import { encodeKvCommand } from '../kv/kv-state-machine.js';
import type { ConfChange, NodeId } from '../types.js';
import { Cluster } from './cluster.js';
import { KvClients } from './kv-clients.js';
import { pickNetworkFaults, type ProtocolFaults } from './fault-schedule.js';
import { checkClientHistory, describeFailure, healAll, runFaultPhase } from './harness.js';
import type { NetworkFaults } from './network.js';

export const DEFAULT_SAFETY_MS = 3000;
export const DEFAULT_LIVENESS_MS = 5000;

/** The one command that replays a run. */
export function replayCommand(
  seed: number,
  safetyMs = DEFAULT_SAFETY_MS,
  livenessMs = DEFAULT_LIVENESS_MS,
): string {
  const extra =
    (safetyMs !== DEFAULT_SAFETY_MS ? ` --safety-ms ${safetyMs}` : '') +
    (livenessMs !== DEFAULT_LIVENESS_MS ? ` --liveness-ms ${livenessMs}` : '');
  return `npm run sim -- --seed ${seed}${extra}`;
}

export interface SimulationOptions {
  /** Virtual milliseconds of faults. */
  readonly safetyMs?: number;
  /** Virtual milliseconds allowed, after healing, for a leader and progress on every node. */
  readonly livenessMs?: number;
  /** Print each fault as it happens. */
  readonly trace?: (line: string) => void;
  /** Called with the cluster when the run fails, to look around (debugging). */
  readonly onFailure?: (cluster: Cluster) => void;
  /** Break the persist-before-send rule on purpose (to test the checkers). */
  readonly unsafeSendBeforeSync?: boolean;
}

export interface SimulationResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure?: string;
  readonly nodes: number;
  readonly virtualMs: number;
  readonly events: number;
  readonly messages: number;
  readonly faults: number;
  readonly operations: number;
  readonly unknownOutcomes: number;
  readonly committedIndex: number;
  readonly linearizable: boolean;
}

/** Everything about a run that the seed decides before it starts. */
interface Scenario {
  readonly ids: NodeId[];
  readonly network: NetworkFaults;
  readonly snapshotEvery: number;
  readonly chunkBytes: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly tornProbability: number;
  readonly maxSyncMs: number;
  readonly clients: number;
  readonly faultEveryMs: number;
}

function pickScenario(r: Xoshiro128): Scenario {
  const size = 3 + r.int(5);
  return {
    ids: Array.from({ length: size }, (_, i) => `n${i + 1}`),
    network: pickNetworkFaults(r),
    snapshotEvery: r.chance(0.5) ? 0 : 5 + r.int(40),
    chunkBytes: 64 + r.int(1024),
    preVote: r.chance(0.8),
    checkQuorum: r.chance(0.8),
    tornProbability: r.next(),
    maxSyncMs: r.int(12),
    clients: 2 + r.int(4),
    faultEveryMs: 40 + r.int(250),
  };
}

/**
 * One deterministic simulation: the seed picks the cluster size (3 to 7), the network's loss,
 * duplication and delay, disk latency, snapshot cadence, client count and a schedule of partitions
 * (symmetric, one-way, minority, majority, bridge), crashes (losing un-synced writes, tearing the last
 * record), restarts and leadership transfers. A safety phase with faults is followed by a liveness
 * phase with every fault healed, in which a leader must emerge and every node must apply a new entry.
 * The checkers run after every event; the clients' history is checked for linearizability at the end.
 */
export function runSimulation(seed: number, options: SimulationOptions = {}): SimulationResult {
  const root = new Xoshiro128(seed);
  const sc = pickScenario(root);
  const safetyMs = options.safetyMs ?? DEFAULT_SAFETY_MS;
  const livenessMs = options.livenessMs ?? DEFAULT_LIVENESS_MS;
  const trace = options.trace;
  const cluster = new Cluster({
    seed: root.nextUint32(),
    ids: sc.ids,
    network: sc.network,
    disk: { minSyncMs: 0, maxSyncMs: sc.maxSyncMs, tornProbability: sc.tornProbability },
    snapshotEveryEntries: sc.snapshotEvery,
    raft: { snapshotChunkBytes: sc.chunkBytes, preVote: sc.preVote, checkQuorum: sc.checkQuorum },
    ...(options.unsafeSendBeforeSync ? { unsafe: { sendBeforeSync: true } } : {}),
  });
  const faults = root.fork();
  const protocolFaults = raftFaults(cluster, sc.ids);
  const clients = new KvClients(cluster, root.fork(), sc.clients, ['x', 'y', 'z'], 600);
  trace?.(
    `seed ${seed}: ${sc.ids.length} nodes, drop ${sc.network.dropProbability.toFixed(3)}, ` +
      `delay ${sc.network.minDelayMs}-${sc.network.maxDelayMs} ms, snapshot every ${sc.snapshotEvery}, ` +
      `preVote ${sc.preVote}, checkQuorum ${sc.checkQuorum}, ${sc.clients} clients`,
  );
  let faultCount = 0;
  let failure: string | undefined;
  let linearizable = false;
  try {
    // Safety phase: faults at random moments.
    faultCount = runFaultPhase(cluster, faults, sc.ids, protocolFaults, {
      safetyMs,
      faultEveryMs: sc.faultEveryMs,
      ...(trace ? { trace } : {}),
    });
    // Liveness phase: heal everything, then demand a leader and progress everywhere.
    healAll(cluster, sc.ids, trace);
    const deadline = cluster.now + livenessMs;
    let leader: NodeId | undefined;
    let probeIndex = 0;
    let lastAttemptMs = -1;
    const progressed = cluster.runUntil(() => {
      const leaders = cluster.leaders();
      const top = leaders.sort((a, b) => b.term - a.term)[0];
      if (!top) return false;
      if (leader !== top.id || probeIndex === 0) {
        if (lastAttemptMs === cluster.now) return false; // one attempt per virtual ms
        lastAttemptMs = cluster.now;
        leader = top.id;
        const r = cluster.propose(top.id, encodeKvCommand({ op: 'put', key: 'liveness', value: `${seed}` }));
        probeIndex = r.ok ? r.index : 0;
        return false;
      }
      const conf = cluster.status(top.id)!.conf;
      return [...conf.voters, ...conf.learners].every((id) => cluster.lastApplied(id) >= probeIndex);
    }, livenessMs);
    if (!progressed) {
      const states = sc.ids.map((id) => {
        const s = cluster.status(id);
        const base = `${id}:${s?.role ?? 'down'}/t${s?.term}/c${s?.commitIndex}/a${cluster.lastApplied(id)}`;
        if (s?.role !== 'leader') return base;
        const prs = s.members.map((m) => `${m.id}=${m.state}/m${m.matchIndex}/n${m.nextIndex}`);
        return `${base}[${prs.join(' ')}]`;
      });
      throw new Error(`liveness: no progress within ${livenessMs} ms after healing (${states.join(' ')})`);
    }
    trace?.(`${cluster.now} ms: progress on every node; stopping clients`);
    linearizable = checkClientHistory(cluster, clients, deadline, trace);
  } catch (e) {
    options.onFailure?.(cluster);
    failure = describeFailure(e);
  }
  return {
    seed,
    ok: failure === undefined,
    ...(failure !== undefined ? { failure } : {}),
    nodes: sc.ids.length,
    virtualMs: cluster.now,
    events: cluster.events,
    messages: cluster.messagesSent,
    faults: faultCount,
    operations: clients.history.length,
    unknownOutcomes: clients.unknown,
    committedIndex: cluster.checkers.maxCommitted,
    linearizable,
  };
}

/** Raft's own faults in the shared schedule: leadership transfer and single-server membership changes. */
function raftFaults(c: Cluster, ids: readonly NodeId[]): ProtocolFaults {
  return {
    leadershipChange(r) {
      const leader = c.leaders()[0];
      const to = ids[r.int(ids.length)]!;
      if (!leader) return 'transfer: no leader';
      c.withCore(leader.id, (core) => core.transferLeadership(to));
      return `transfer ${leader.id} -> ${to}`;
    },
    membershipChange(r) {
      const leader = c.leaders()[0];
      if (!leader) return 'membership: no leader';
      const conf = c.status(leader.id)!.conf;
      const outside = ids.filter((id) => !conf.voters.includes(id) && !conf.learners.includes(id));
      const learner = conf.learners[0];
      const change: ConfChange =
        learner !== undefined
          ? { type: 'promote', node: learner }
          : outside.length > 0 && r.chance(0.6)
            ? { type: 'addLearner', node: outside[r.int(outside.length)]! }
            : conf.voters.length > 2
              ? { type: 'remove', node: conf.voters[r.int(conf.voters.length)]! }
              : { type: 'addLearner', node: outside[0] ?? leader.id };
      const result = c.withCore(leader.id, (core) => core.proposeConfChange(change));
      return `membership ${change.type} ${change.node} via ${leader.id}: ${result?.ok ? 'proposed' : (result?.error.kind ?? 'down')}`;
    },
  };
}
