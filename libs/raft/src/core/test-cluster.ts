import type { Entry, Message, NodeId, Snapshot } from '../types.js';
import { Xoshiro128 } from './prng.js';
import { RaftNode, type PersistedState, type RaftConfig, type ReadState } from './raft-node.js';

/**
 * A synchronous in-memory harness for unit tests of the core: every Ready is "persisted" at once,
 * its messages queued, its committed entries recorded. Messages are delivered in FIFO order unless a
 * filter drops them. Small and explicit on purpose: the simulator is the place for timing and faults.
 */
export class TestCluster {
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly applied = new Map<NodeId, Entry[]>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  readonly installed = new Map<NodeId, Snapshot[]>();
  readonly sent: Message[] = [];
  queue: Message[] = [];
  /** Return false to drop a message. */
  filter: (m: Message) => boolean = () => true;

  constructor(
    ids: readonly NodeId[],
    readonly config: Partial<Omit<RaftConfig, 'id'>> = {},
    voters: readonly NodeId[] = ids,
    seed = 1,
  ) {
    const random = new Xoshiro128(seed);
    for (const id of ids) {
      const state: PersistedState = voters.includes(id)
        ? RaftNode.bootstrap(voters)
        : { hardState: null, snapshot: null, entries: [] };
      this.add(id, state, random.fork());
    }
  }

  add(id: NodeId, state: PersistedState, random = new Xoshiro128(id.length)): RaftNode {
    const node = new RaftNode(
      {
        id,
        electionTimeoutTicks: 10,
        heartbeatIntervalTicks: 1,
        maxInflightAppends: 4,
        maxEntriesPerAppend: 8,
        maxBytesPerAppend: 1 << 20,
        snapshotChunkBytes: 1024,
        preVote: true,
        checkQuorum: true,
        ...this.config,
      },
      random,
      state,
    );
    this.nodes.set(id, node);
    this.applied.set(id, []);
    this.readStates.set(id, []);
    return node;
  }

  node(id: NodeId): RaftNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** Drains every Ready and delivers messages until quiet (bounded). */
  settle(maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false;
      for (const [id, n] of this.nodes) {
        while (n.hasReady()) {
          busy = true;
          const rd = n.ready();
          for (const m of rd.messages) {
            this.sent.push(m);
            if (this.filter(m)) this.queue.push(m);
          }
          if (rd.snapshot) this.installed.set(id, [...(this.installed.get(id) ?? []), rd.snapshot]);
          this.applied.get(id)!.push(...rd.committedEntries);
          this.readStates.get(id)!.push(...rd.readStates);
          n.advance();
        }
      }
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        busy = true;
        this.nodes.get(m.to)?.step(m);
      }
      if (!busy) return;
    }
    throw new Error('test cluster did not settle');
  }

  /** Ticks one node (or all) `n` times, settling after each tick. */
  tick(n: number, ids: readonly NodeId[] = [...this.nodes.keys()]): void {
    for (let i = 0; i < n; i++) {
      for (const id of ids) this.node(id).tick();
      this.settle();
    }
  }

  /** Makes `id` campaign by ticking it alone until it leads. */
  elect(id: NodeId): void {
    for (let i = 0; i < 100 && this.node(id).status().role !== 'leader'; i++) this.tick(1, [id]);
    if (this.node(id).status().role !== 'leader') throw new Error(`${id} did not become leader`);
  }

  isolate(id: NodeId): void {
    const previous = this.filter;
    this.filter = (m) => m.from !== id && m.to !== id && previous(m);
  }

  heal(): void {
    this.filter = () => true;
  }

  appliedData(id: NodeId): string[] {
    return this.applied
      .get(id)!
      .filter((e) => e.type === 'normal')
      .map((e) => new TextDecoder().decode(e.data));
  }
}

export const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
