// Paxos beside Raft (issue 17): single-decree Paxos, Multi-Paxos with a distinguished proposer, and its simulator.
export {
  compareBallots,
  formatBallot,
  majority,
  sameBallot,
  sameValue,
  ZERO_BALLOT,
  type Ballot,
  type Value,
} from './ballot.js';
export {
  Acceptor,
  Learner,
  Proposer,
  type AcceptorState,
  type SingleMessage,
} from './single/single-decree.js';
export { defaultPaxosConfig, PaxosNode, type PaxosConfig } from './multi/paxos-node.js';
export type {
  AcceptedSlot,
  PaxosDurableState,
  PaxosMessage,
  PaxosProposeResult,
  PaxosReady,
  PaxosRole,
  PaxosStatus,
  PaxosWrite,
  SlotValue,
} from './multi/types.js';
export { MemoryAcceptorStore } from './sim/acceptor-store.js';
export { PaxosCheckers } from './sim/checkers.js';
export { PaxosCluster, type PaxosAppliedEvent, type PaxosClusterOptions } from './sim/paxos-cluster.js';
export { encodeTaggedCommand, LogKvClients, paxosLog, type ReplicatedLog } from './sim/kv-clients.js';
export {
  PAXOS_DEFAULT_LIVENESS_MS,
  PAXOS_DEFAULT_SAFETY_MS,
  paxosFaults,
  paxosReplayCommand,
  pickSharedScenario,
  runPaxosSimulation,
  type PaxosSimulationOptions,
  type PaxosSimulationResult,
  type SharedScenario,
} from './sim/simulation.js';
export { runDuel, type DuelResult } from './sim/dueling.js';
export {
  formatComparison,
  protocols,
  runComparison,
  summarize,
  type ComparisonRow,
  type ComparisonRun,
  type Protocol,
} from './sim/compare.js';
export {
  runSingleDecree,
  type PaxosRun,
  type PaxosRunEvent,
  type PaxosRunEventKind,
  type SingleDecreeRunOptions,
} from './sim/single-decree-run.js';
