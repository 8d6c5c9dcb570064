import type { Entry, HardState, Message, NodeId, Snapshot } from './types.js';

/**
 * Ports of the Raft driver, in the manner of hashicorp/raft: each dependency is passed in, each has
 * a written contract, and each ships an in-memory version (for tests and the simulator) beside a real one.
 * The core never touches these: it only produces a Ready bundle; the driver calls the ports.
 */

/**
 * The durable log. Contract:
 * - `append(entries)`: entries are consecutive; an entry at index i replaces the stored entry at i and
 *   everything after it (a new leader overwrote an uncommitted suffix). Resolves only once durable.
 * - `compact(throughIndex)`: entries at or below the index may be dropped (a snapshot covers them).
 *   Bounded disk use comes from calling it after every snapshot.
 * - `load()`: on start, every entry not yet compacted, in order. A torn or corrupt tail left by a crash is
 *   detected (checksum) and truncated, never returned.
 */
export interface LogStorage {
  load(): Promise<Entry[]>;
  append(entries: readonly Entry[]): Promise<void>;
  compact(throughIndex: number): Promise<void>;
  close(): Promise<void>;
}

/** Term and vote: durable before a vote or an append is answered. */
export interface HardStateStorage {
  loadHardState(): Promise<HardState | null>;
  saveHardState(state: HardState): Promise<void>;
}

/**
 * Log and hard state in one write-ahead log, so that one fdatasync covers both (group commit).
 * `save` resolves once both are durable.
 */
export interface DurableLog extends LogStorage, HardStateStorage {
  /**
   * With `{ sync: false }` the records may resolve before they are durable and join the next synced write
   * (etcd's MustSync rule: a hard state whose term and vote did not change, only the commit index, needs no
   * fsync of its own; a lost commit index is learned again from the leader). Default: synced.
   */
  save(
    state: HardState | null,
    entries: readonly Entry[],
    options?: { readonly sync?: boolean },
  ): Promise<void>;
}

/** The latest snapshot. `save` is atomic: temporary file, fsync, rename, fsync the directory. */
export interface SnapshotStorage {
  load(): Promise<Snapshot | null>;
  save(snapshot: Snapshot): Promise<void>;
}

/**
 * The replicated state machine. `apply` must be deterministic: no clock, no randomness, no I/O whose
 * result can differ between nodes. Entries are applied in index order, exactly once per incarnation
 * after `restore`.
 */
export interface StateMachine<Result = unknown> {
  apply(entry: Entry): Result;
  snapshot(): Uint8Array;
  /**
   * Optional: captures the state as of now, cheaply and synchronously (references to immutable records), and
   * returns an encoder that may take several event-loop turns and yields exactly what `snapshot()` would have
   * returned at capture time. The driver then takes snapshots without stopping the node for the encoding.
   */
  captureSnapshot?(): () => Promise<Uint8Array>;
  restore(data: Uint8Array): void;
}

/**
 * Peer transport. `send` never blocks and never throws: a message to an unreachable peer is dropped
 * (Raft tolerates loss); per-peer queues are bounded. Received messages from authenticated peers only.
 */
export interface Transport {
  send(message: Message): void;
  /**
   * Optional: sends what `send` queued now rather than when the transport would on its own (e.g. at the end of the
   * event-loop turn). The driver calls it after each batch of messages, so a batch still goes out together.
   */
  flush?(): void;
  onMessage(handler: (message: Message) => void): void;
  /** Peers can be added and removed as membership changes. */
  setPeer(id: NodeId, address: string): void;
  removePeer(id: NodeId): void;
  close(): Promise<void>;
}
