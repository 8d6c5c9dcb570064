import {
  Cluster,
  injectFault,
  reliableNetwork,
  Xoshiro128,
  type FaultTarget,
  type KvResult,
  type NetworkFaults,
  type NodeId,
  type ProtocolFaults,
} from '@concord/raft';
import { commandTag, encodeTaggedCommand, LogKvClients, paxosLog, type ReplicatedLog } from './kv-clients.js';
import { PaxosCluster } from './paxos-cluster.js';
import { paxosFaults, pickSharedScenario } from './simulation.js';

export type Protocol = 'raft' | 'multipaxos';
export const protocols: readonly Protocol[] = ['raft', 'multipaxos'];

/**
 * One protocol's cluster behind the handful of operations the comparison needs, so both run the same script.
 */
interface Subject extends FaultTarget {
  readonly log: ReplicatedLog;
  readonly now: number;
  network: NetworkFaults;
  runFor(ms: number): void;
  messages(): number;
  fsyncs(): number;
  /** The leader with the highest term or ballot, if any. */
  leader(): NodeId | undefined;
  /** A node is campaigning (Raft: pre-candidate or candidate; Paxos: running phase 1). */
  campaigning(): boolean;
  /** Every command tag committed (chosen) anywhere, from the checkers' global view. */
  committedTags(): Set<string>;
  /** Number of committed (chosen) log positions, no-ops included. */
  committedCount(): number;
  faults: ProtocolFaults;
}

function raftSubject(
  seed: number,
  ids: readonly NodeId[],
  network: NetworkFaults,
  maxSyncMs: number,
): Subject {
  const c = new Cluster({ seed, ids, network, disk: { minSyncMs: 0, maxSyncMs, tornProbability: 0.5 } });
  const log: ReplicatedLog = {
    ids,
    get now() {
      return c.now;
    },
    after: (ms, run) => c.after(ms, run),
    submit: (node, data) => {
      const r = c.propose(node, data);
      if (r.ok) return { ok: true };
      return { ok: false, leaderHint: r.error.kind === 'notLeader' ? r.error.leaderHint : null };
    },
    onApply: (l) =>
      c.onApply((e) => l(e.node, e.entry.type === 'normal' ? e.entry.data : null, e.result as KvResult)),
  };
  return {
    log,
    links: c.links,
    get now() {
      return c.now;
    },
    get network() {
      return c.network;
    },
    set network(n) {
      c.network = n;
    },
    runFor: (ms) => c.runFor(ms),
    runUntil: (done, ms) => c.runUntil(done, ms),
    isUp: (id) => c.isUp(id),
    isPersisting: (id) => c.isPersisting(id),
    crash: (id) => c.crash(id),
    restart: (id) => c.restart(id),
    someLeader: () => c.someLeader(),
    messages: () => c.messagesSent,
    fsyncs: () => ids.reduce((s, id) => s + c.diskSyncs(id), 0),
    leader: () => c.leaders().sort((a, b) => b.term - a.term)[0]?.id,
    campaigning: () => ids.some((id) => ['candidate', 'preCandidate'].includes(c.status(id)?.role ?? '')),
    committedTags: () => {
      const out = new Set<string>();
      for (let i = 1; i <= c.checkers.maxCommitted; i++) {
        const e = c.checkers.appliedEntry(i);
        const tag = e?.type === 'normal' ? commandTag(e.data) : undefined;
        if (tag !== undefined) out.add(tag);
      }
      return out;
    },
    committedCount: () => c.checkers.maxCommitted,
    faults: {
      leadershipChange(r) {
        const leader = c.leaders()[0];
        const to = ids[r.int(ids.length)]!;
        if (!leader) return 'transfer: no leader';
        c.withCore(leader.id, (core) => core.transferLeadership(to));
        return `transfer ${leader.id} -> ${to}`;
      },
      membershipChange: () => 'membership: not in the comparison',
    },
  };
}

function paxosSubject(
  seed: number,
  ids: readonly NodeId[],
  network: NetworkFaults,
  maxSyncMs: number,
): Subject {
  const c = new PaxosCluster({ seed, ids, network, disk: { minSyncMs: 0, maxSyncMs } });
  return {
    log: paxosLog(c),
    links: c.links,
    get now() {
      return c.now;
    },
    get network() {
      return c.network;
    },
    set network(n) {
      c.network = n;
    },
    runFor: (ms) => c.runFor(ms),
    runUntil: (done, ms) => c.runUntil(done, ms),
    isUp: (id) => c.isUp(id),
    isPersisting: (id) => c.isPersisting(id),
    crash: (id) => c.crash(id),
    restart: (id) => c.restart(id),
    someLeader: () => c.someLeader(),
    messages: () => c.messagesSent,
    fsyncs: () => c.diskSyncs(),
    leader: () => c.leaders()[0]?.id,
    campaigning: () => ids.some((id) => c.status(id)?.role === 'candidate'),
    committedTags: () => {
      const out = new Set<string>();
      for (let s = 1; s <= c.checkers.chosenCount(); s++) {
        const tag = commandTag(c.checkers.chosenAt(s) ?? null);
        if (tag !== undefined) out.add(tag);
      }
      return out;
    },
    committedCount: () => c.checkers.chosenCount(),
    faults: paxosFaults(c, ids),
  };
}

function subject(
  p: Protocol,
  seed: number,
  ids: readonly NodeId[],
  network: NetworkFaults,
  maxSyncMs: number,
): Subject {
  return p === 'raft'
    ? raftSubject(seed, ids, network, maxSyncMs)
    : paxosSubject(seed, ids, network, maxSyncMs);
}

export interface ComparisonRun {
  readonly protocol: Protocol;
  readonly seed: number;
  readonly nodes: number;
  readonly ok: boolean;
  readonly failure?: string;
  /** Steady state under the seed's lossy network: per command acknowledged to a client. */
  readonly messagesPerCommand: number;
  readonly fsyncsPerCommand: number;
  /** On a clean network with one fixed delay: round trips per command, in steady state and across a leader change. */
  readonly roundsSteady: number;
  readonly roundsAfterLeaderChange: number;
  /** Virtual ms from crashing the leader to the first client command committed afterwards. */
  readonly recoveryMs: number;
  /** Commands acknowledged to a client and missing from the committed log at the end (must be 0). */
  readonly lost: number;
}

const STEADY_MS = 1000;
const FAULTS_MS = 1000;
const PROBE_DELAY_MS = 10;

const fixedNetwork: NetworkFaults = {
  dropProbability: 0,
  duplicateProbability: 0,
  minDelayMs: PROBE_DELAY_MS,
  maxDelayMs: PROBE_DELAY_MS,
  longDelayProbability: 0,
  longDelayMaxMs: 0,
};

/**
 * Rounds on a clean network where every message takes exactly PROBE_DELAY_MS and the disk takes no time: the
 * latency of one command at a settled leader, and the time from a follower starting its campaign (after the
 * leader crashed) to its first command committed, each divided by one round trip.
 */
function measureRounds(
  p: Protocol,
  seed: number,
  ids: readonly NodeId[],
): { steady: number; afterChange: number } {
  const s = subject(p, seed, ids, fixedNetwork, 0);
  let committedAt = -1;
  let waitingTag = '';
  s.log.onApply((_node, data) => {
    if (waitingTag !== '' && commandTag(data) === waitingTag && committedAt < 0) committedAt = s.now;
  });
  const commitOne = (leader: NodeId, tag: string): number => {
    waitingTag = tag;
    committedAt = -1;
    const start = s.now;
    s.log.submit(leader, encodeTaggedCommand({ op: 'put', key: 'probe', value: tag }, tag));
    s.runUntil(() => committedAt >= 0, 2000);
    return committedAt < 0 ? NaN : (committedAt - start) / (2 * PROBE_DELAY_MS);
  };
  s.runUntil(() => s.leader() !== undefined, 5000);
  s.runFor(200); // settle: the new leader's own first entries are done
  const first = s.leader();
  if (first === undefined) return { steady: NaN, afterChange: NaN };
  const steady = commitOne(first, 'probe-steady');
  s.crash(first);
  s.runUntil(() => s.campaigning(), 5000);
  const campaignStart = s.now;
  s.runUntil(() => s.leader() !== undefined, 5000);
  const next = s.leader();
  if (next === undefined) return { steady, afterChange: NaN };
  // The client's command reaches the new leader the moment it leads.
  waitingTag = 'probe-change';
  committedAt = -1;
  s.log.submit(next, encodeTaggedCommand({ op: 'put', key: 'probe', value: waitingTag }, waitingTag));
  s.runUntil(() => committedAt >= 0, 2000);
  return {
    steady,
    afterChange: committedAt < 0 ? NaN : (committedAt - campaignStart) / (2 * PROBE_DELAY_MS),
  };
}

/**
 * One seed, one protocol. The seed picks the cluster size, the network (loss, duplication, delay), disk latency
 * and client count exactly as the simulators do, and the same fault schedule drives both protocols:
 * a steady phase (counted), a leader crash (recovery timed), a phase of random faults from the shared schedule,
 * then healing; at the end every command acknowledged to a client must be in the committed log.
 */
export function runComparison(p: Protocol, seed: number): ComparisonRun {
  const root = new Xoshiro128(seed);
  const sc = pickSharedScenario(root);
  const clusterSeed = root.nextUint32();
  const s = subject(p, clusterSeed, sc.ids, sc.network, sc.maxSyncMs);
  const faults = root.fork();
  const clients = new LogKvClients(s.log, root.fork(), sc.clients, ['x', 'y', 'z'], 300);
  const base = {
    protocol: p,
    seed,
    nodes: sc.ids.length,
    messagesPerCommand: NaN,
    fsyncsPerCommand: NaN,
    roundsSteady: NaN,
    roundsAfterLeaderChange: NaN,
    recoveryMs: NaN,
    lost: 0,
  };
  try {
    if (!s.runUntil(() => s.leader() !== undefined, 5000)) throw new Error('no leader at start');
    s.runFor(200);
    const m0 = s.messages();
    const f0 = s.fsyncs();
    const c0 = clients.completed;
    s.runFor(STEADY_MS);
    const commands = clients.completed - c0;
    const messagesPerCommand = (s.messages() - m0) / commands;
    const fsyncsPerCommand = (s.fsyncs() - f0) / commands;
    const leader = s.leader() ?? s.someLeader();
    if (leader === undefined) throw new Error('no leader before the crash');
    s.crash(leader);
    const crashedAt = s.now;
    const completedAtCrash = clients.completed;
    const recovered = s.runUntil(
      () => clients.completed > completedAtCrash && s.leader() !== undefined,
      5000,
    );
    const recoveryMs = recovered ? s.now - crashedAt : NaN;
    s.restart(leader);
    const end = s.now + FAULTS_MS;
    while (s.now < end) {
      s.runFor(1 + faults.int(sc.faultEveryMs));
      injectFault(s, faults, sc.ids, s.faults);
    }
    s.links.heal();
    s.network = reliableNetwork;
    for (const id of sc.ids) if (!s.isUp(id)) s.restart(id);
    clients.stop();
    s.runUntil(() => clients.pending() === 0, 3000);
    s.runFor(500);
    const committed = s.committedTags();
    let lost = 0;
    for (const tag of clients.acknowledged.keys()) if (!committed.has(tag)) lost++;
    const rounds = measureRounds(p, clusterSeed, sc.ids);
    return {
      ...base,
      ok: lost === 0,
      messagesPerCommand,
      fsyncsPerCommand,
      roundsSteady: rounds.steady,
      roundsAfterLeaderChange: rounds.afterChange,
      recoveryMs,
      lost,
    };
  } catch (e) {
    return { ...base, ok: false, failure: e instanceof Error ? e.message : String(e) };
  }
}

export interface ComparisonRow {
  readonly protocol: Protocol;
  readonly seeds: number;
  readonly failed: number;
  readonly messagesPerCommand: number;
  readonly fsyncsPerCommand: number;
  readonly roundsSteady: number;
  readonly roundsAfterLeaderChange: number;
  readonly recoveryMsMedian: number;
  readonly recoveryMsP99: number;
  readonly lost: number;
}

function quantile(xs: readonly number[], q: number): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  return v[Math.min(v.length - 1, Math.floor(q * v.length))]!;
}

export function summarize(p: Protocol, runs: readonly ComparisonRun[]): ComparisonRow {
  return {
    protocol: p,
    seeds: runs.length,
    failed: runs.filter((r) => !r.ok).length,
    messagesPerCommand: quantile(
      runs.map((r) => r.messagesPerCommand),
      0.5,
    ),
    fsyncsPerCommand: quantile(
      runs.map((r) => r.fsyncsPerCommand),
      0.5,
    ),
    roundsSteady: quantile(
      runs.map((r) => r.roundsSteady),
      0.5,
    ),
    roundsAfterLeaderChange: quantile(
      runs.map((r) => r.roundsAfterLeaderChange),
      0.5,
    ),
    recoveryMsMedian: quantile(
      runs.map((r) => r.recoveryMs),
      0.5,
    ),
    recoveryMsP99: quantile(
      runs.map((r) => r.recoveryMs),
      0.99,
    ),
    lost: runs.reduce((s, r) => s + r.lost, 0),
  };
}

/** The comparison table, as printed by `npm run sim -- --compare`. */
export function formatComparison(rows: readonly ComparisonRow[]): string {
  const header = [
    'protocol',
    'seeds',
    'failed',
    'msgs/cmd',
    'fsyncs/cmd',
    'rounds/cmd steady',
    'rounds after leader change',
    'recovery ms p50',
    'recovery ms p99',
    'commands lost',
  ];
  const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const lines = rows.map((r) => [
    r.protocol,
    String(r.seeds),
    String(r.failed),
    fmt(r.messagesPerCommand),
    fmt(r.fsyncsPerCommand),
    fmt(r.roundsSteady),
    fmt(r.roundsAfterLeaderChange),
    fmt(r.recoveryMsMedian, 0),
    fmt(r.recoveryMsP99, 0),
    String(r.lost),
  ]);
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const row = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [row(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)].join('\n');
}
