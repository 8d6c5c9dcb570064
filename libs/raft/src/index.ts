export * from './types.js';
export * from './ports.js';
// Core, in-memory ports, driver, key/value state machine and simulator (issue 3).
export { Xoshiro128, type Random } from './core/prng.js';
export {
  RaftNode,
  defaultRaftConfig,
  type CommandResult,
  type MemberStatus,
  type PersistedState,
  type ProposeResult,
  type RaftConfig,
  type RaftError,
  type RaftStatus,
  type ReadState,
  type Ready,
  type Role,
} from './core/raft-node.js';
export { decodeConfEntry, encodeConfEntry, type ConfEntryPayload } from './core/conf.js';
export type { ProgressState } from './core/progress.js';
export { MemoryDurableLog, type CrashRandom, type RecoveredLog } from './memory/memory-durable-log.js';
export { MemorySnapshotStorage } from './memory/memory-snapshot-storage.js';
export { MemoryNetwork, MemoryTransport } from './memory/memory-transport.js';
export { RaftDriver, RaftRequestError, type RaftDriverOptions } from './driver/raft-driver.js';
export { recoverState, snapshotWitness } from './driver/recover.js';
export { KvStateMachine, encodeKvCommand, type KvCommand, type KvResult } from './kv/kv-state-machine.js';
export { Cluster, simRaftConfig, type ClusterOptions, type DiskFaults } from './sim/cluster.js';
export { Checkers, InvariantViolation } from './sim/checkers.js';
export { LinkTable, reliableNetwork, unreliableNetwork, type NetworkFaults } from './sim/network.js';
export { EventQueue } from './sim/event-queue.js';
export {
  deliveryDelays,
  injectFault,
  pickNetworkFaults,
  type FaultTarget,
  type ProtocolFaults,
} from './sim/fault-schedule.js';
export { LabHarness } from './sim/lab-harness.js';
export {
  checkClientHistory,
  completedOperation,
  describeFailure,
  healAll,
  randomKvCommand,
  runFaultPhase,
  unknownOperation,
  type SimulatedClients,
  type SimulatedCluster,
} from './sim/harness.js';
export {
  DEFAULT_LIVENESS_MS,
  DEFAULT_SAFETY_MS,
  replayCommand,
  runSimulation,
  type SimulationOptions,
  type SimulationResult,
} from './sim/simulation.js';
export { CodecError } from './codec/bytes.js';
export {
  MESSAGE_FORMAT_VERSION,
  decodeEntry,
  decodeHardState,
  decodeMessage,
  decodeSnapshot,
  encodeEntry,
  encodeHardState,
  encodeMessage,
  encodeSnapshot,
} from './codec/message-codec.js';
export {
  DiskWal,
  WalClosedError,
  WalCorruptError,
  type DiskWalOptions,
  type SaveOptions,
  type WalRecovery,
  type WalStats,
} from './storage/wal.js';
export {
  FileSnapshotStorage,
  SnapshotCorruptError,
  type FileSnapshotStorageOptions,
} from './storage/snapshot-file.js';
export {
  HANDSHAKE_FRAME_BYTES_MAX,
  TcpTransport,
  type PeerStats,
  type TcpTransportOptions,
  type TransportLogEvent,
  type TransportStats,
} from './transport/tcp-transport.js';
