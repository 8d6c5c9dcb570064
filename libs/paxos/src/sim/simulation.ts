import {
  checkClientHistory,
  describeFailure,
  healAll,
  pickNetworkFaults,
  runFaultPhase,
  Xoshiro128,
  type NetworkFaults,
  type NodeId,
  type ProtocolFaults,
} from '@concord/raft';
import { encodeTaggedCommand, LogKvClients, paxosLog } from './kv-clients.js';
import { PaxosCluster } from './paxos-cluster.js';

export const PAXOS_DEFAULT_SAFETY_MS = 3000;
export const PAXOS_DEFAULT_LIVENESS_MS = 5000;

/** The one command that replays a Multi-Paxos run. */
export function paxosReplayCommand(
  seed: number,
  safetyMs = PAXOS_DEFAULT_SAFETY_MS,
  livenessMs = PAXOS_DEFAULT_LIVENESS_MS,
  leaderElection = true,
): string {
  const extra =
    (safetyMs !== PAXOS_DEFAULT_SAFETY_MS ? ` --safety-ms ${safetyMs}` : '') +
    (livenessMs !== PAXOS_DEFAULT_LIVENESS_MS ? ` --liveness-ms ${livenessMs}` : '') +
    (leaderElection ? '' : ' --no-leader-election');
  return `npm run sim -- --protocol multipaxos --seed ${seed}${extra}`;
}

export interface PaxosSimulationOptions {
  readonly safetyMs?: number;
  readonly livenessMs?: number;
  /** Off: competing proposers (expect the liveness phase to fail: that is the point of the flag). */
  readonly leaderElection?: boolean;
  readonly trace?: (line: string) => void;
  readonly unsafeSendBeforeSync?: boolean;
}

export interface PaxosSimulationResult {
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
  readonly chosenSlots: number;
  readonly linearizable: boolean;
}

/** What a seed decides before a run: the same draws, in the same order, as the Raft simulator's scenario. */
export interface SharedScenario {
  readonly ids: NodeId[];
  readonly network: NetworkFaults;
  readonly maxSyncMs: number;
  readonly clients: number;
  readonly faultEveryMs: number;
}

export function pickSharedScenario(r: Xoshiro128): SharedScenario {
  const size = 3 + r.int(5);
  const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  const network = pickNetworkFaults(r);
  return { ids, network, maxSyncMs: r.int(12), clients: 2 + r.int(4), faultEveryMs: 40 + r.int(250) };
}

/** Multi-Paxos's own faults in the shared schedule: a takeover by a higher ballot; membership is static here. */
export function paxosFaults(c: PaxosCluster, ids: readonly NodeId[]): ProtocolFaults {
  return {
    leadershipChange(r) {
      const to = ids[r.int(ids.length)]!;
      return c.campaign(to) ? `takeover: ${to} runs phase 1` : `takeover: ${to} is down`;
    },
    membershipChange() {
      return 'membership: static in this Multi-Paxos (see docs/paxos.md)';
    },
  };
}

/**
 * One deterministic Multi-Paxos run with the Raft simulator's fault model: a safety phase with partitions,
 * crashes (losing un-synced writes), restarts, takeovers, loss, duplication and delay, then a liveness phase with
 * every fault healed in which a leader must emerge and every node must learn a new command. The checkers run
 * throughout; the clients' history is checked for linearizability at the end.
 */
export function runPaxosSimulation(
  seed: number,
  options: PaxosSimulationOptions = {},
): PaxosSimulationResult {
  const root = new Xoshiro128(seed);
  const sc = pickSharedScenario(root);
  const safetyMs = options.safetyMs ?? PAXOS_DEFAULT_SAFETY_MS;
  const livenessMs = options.livenessMs ?? PAXOS_DEFAULT_LIVENESS_MS;
  const leaderElection = options.leaderElection ?? true;
  const trace = options.trace;
  const cluster = new PaxosCluster({
    seed: root.nextUint32(),
    ids: sc.ids,
    network: sc.network,
    disk: { minSyncMs: 0, maxSyncMs: sc.maxSyncMs },
    paxos: { leaderElection },
    ...(options.unsafeSendBeforeSync ? { unsafe: { sendBeforeSync: true } } : {}),
  });
  const faults = root.fork();
  const protocolFaults = paxosFaults(cluster, sc.ids);
  const clients = new LogKvClients(paxosLog(cluster), root.fork(), sc.clients, ['x', 'y', 'z'], 600);
  trace?.(
    `seed ${seed}: multipaxos, ${sc.ids.length} nodes, drop ${sc.network.dropProbability.toFixed(3)}, ` +
      `delay ${sc.network.minDelayMs}-${sc.network.maxDelayMs} ms, leader election ${leaderElection}, ${sc.clients} clients`,
  );
  let faultCount = 0;
  let failure: string | undefined;
  let linearizable = false;
  try {
    faultCount = runFaultPhase(cluster, faults, sc.ids, protocolFaults, {
      safetyMs,
      faultEveryMs: sc.faultEveryMs,
      ...(trace ? { trace } : {}),
    });
    healAll(cluster, sc.ids, trace);
    const deadline = cluster.now + livenessMs;
    // A probe command must be learned by every node.
    let probeTag = '';
    let probeAt = -1;
    let lastAttemptMs = -1;
    const learnedBy = new Set<NodeId>();
    cluster.onApply((e) => {
      if (probeTag !== '' && e.value !== null && new TextDecoder().decode(e.value).includes(`"${probeTag}"`))
        learnedBy.add(e.node);
    });
    const progressed = cluster.runUntil(() => {
      if (learnedBy.size === sc.ids.length) return true;
      const leader = cluster.leaders()[0];
      if (!leader || lastAttemptMs === cluster.now) return false;
      if (probeAt >= 0 && cluster.now - probeAt < 300) return false;
      lastAttemptMs = cluster.now;
      probeAt = cluster.now;
      probeTag = `liveness-${seed}-${cluster.now}`;
      learnedBy.clear();
      cluster.propose(
        leader.id,
        encodeTaggedCommand({ op: 'put', key: 'liveness', value: `${seed}` }, probeTag),
      );
      return false;
    }, livenessMs);
    if (!progressed) {
      const states = sc.ids.map((id) => {
        const s = cluster.status(id);
        return s
          ? `${id}:${s.role}/b${s.ballot.round}.${s.ballot.node}/p${s.promised.round}.${s.promised.node}/u${s.firstUnchosen}/a${cluster.lastApplied(id)}`
          : `${id}:down`;
      });
      throw new Error(`liveness: no progress within ${livenessMs} ms after healing (${states.join(' ')})`);
    }
    trace?.(`${cluster.now} ms: every node learned the probe; stopping clients`);
    linearizable = checkClientHistory(cluster, clients, deadline, trace);
  } catch (e) {
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
    chosenSlots: cluster.checkers.chosenCount(),
    linearizable,
  };
}
