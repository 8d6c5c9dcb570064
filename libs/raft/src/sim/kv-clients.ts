import type { KvOperation } from '@concord/lincheck';
import type { Xoshiro128 } from '../core/prng.js';
import { encodeKvCommand, type KvCommand, type KvResult } from '../kv/kv-state-machine.js';
import type { NodeId } from '../types.js';
import type { Cluster } from './cluster.js';
import { completedOperation, randomKvCommand, unknownOperation } from './harness.js';

interface InFlight {
  readonly cmd: KvCommand;
  readonly call: number;
  readonly node: NodeId;
  /** Log position of a proposal, or the context of a ReadIndex read. */
  readonly index?: number;
  readonly term?: number;
  readonly context?: string;
  readonly deadline: number;
}

/**
 * Concurrent simulated clients doing put, get and cas through Raft. Every operation is recorded with
 * its call and return times (virtual ms); an operation whose outcome the client cannot know (its node
 * crashed, its deadline passed) is recorded with `return: null`. Operations that certainly did not
 * happen (refused, or their log slot went to another entry) are not recorded.
 */
export class KvClients {
  readonly history: KvOperation[] = [];
  private readonly inflight = new Map<number, InFlight>();
  private readonly leaderGuess = new Map<number, NodeId>();
  private running = true;
  private seq = 0;
  completed = 0;
  unknown = 0;

  constructor(
    private readonly cluster: Cluster,
    private readonly random: Xoshiro128,
    private readonly clients: number,
    private readonly keys: readonly string[],
    private readonly timeoutMs: number,
  ) {
    cluster.onApply((e) => {
      for (const [client, f] of this.inflight) {
        if (f.node !== e.node || f.index !== e.entry.index) continue;
        if (e.entry.term === f.term) this.finish(client, f, e.result as KvResult);
        else this.abandon(client);
      }
    });
    cluster.onRead((node, rs) => {
      for (const [client, f] of this.inflight) {
        if (f.node !== node || f.context !== rs.context) continue;
        if (rs.index === 0) this.abandon(client);
        else this.finish(client, f, { ok: true, value: cluster.kvGet(node, f.cmd.key) });
      }
    });
    for (let c = 0; c < clients; c++) this.schedule(c, 1 + random.int(20));
  }

  stop(): void {
    this.running = false;
  }

  /** Operations still waiting become unknown (for the final history). */
  drain(): void {
    for (const [client, f] of this.inflight) this.recordUnknown(client, f);
    this.inflight.clear();
  }

  pending(): number {
    return this.inflight.size;
  }

  private schedule(client: number, delayMs: number): void {
    this.cluster.after(delayMs, () => this.issue(client));
  }

  private issue(client: number): void {
    if (!this.running) return;
    const value = `c${client}-${this.seq++}`;
    const cmd = randomKvCommand(this.random, this.keys, value, this.clients, this.seq);
    const node = this.leaderGuess.get(client) ?? this.cluster.ids[this.random.int(this.cluster.ids.length)]!;
    const call = this.cluster.now;
    const deadline = call + this.timeoutMs;
    if (cmd.op === 'get' && this.random.chance(0.7)) {
      const context = `r${client}-${this.seq++}`;
      if (!this.cluster.readIndex(node, context)) return this.retarget(client, null);
      this.inflight.set(client, { cmd, call, node, context, deadline });
    } else {
      const r = this.cluster.propose(node, encodeKvCommand(cmd));
      if (!r.ok) return this.retarget(client, r.error.kind === 'notLeader' ? r.error.leaderHint : null);
      this.inflight.set(client, { cmd, call, node, index: r.index, term: r.term, deadline });
    }
    this.cluster.after(this.timeoutMs, () => {
      const f = this.inflight.get(client);
      if (f && f.deadline <= this.cluster.now) {
        this.inflight.delete(client);
        this.recordUnknown(client, f);
        this.leaderGuess.delete(client);
        this.schedule(client, 1);
      }
    });
  }

  private retarget(client: number, hint: NodeId | null): void {
    if (hint) this.leaderGuess.set(client, hint);
    else this.leaderGuess.delete(client);
    this.schedule(client, 5 + this.random.int(20));
  }

  private finish(client: number, f: InFlight, result: KvResult): void {
    this.inflight.delete(client);
    this.leaderGuess.set(client, f.node);
    this.completed++;
    this.history.push(completedOperation(client, f.cmd, f.call, this.cluster.now, result));
    this.schedule(client, this.random.int(10));
  }

  private abandon(client: number): void {
    this.inflight.delete(client);
    this.leaderGuess.delete(client);
    this.schedule(client, 1 + this.random.int(10));
  }

  private recordUnknown(client: number, f: InFlight): void {
    const op = unknownOperation(client, f.cmd, f.call);
    if (op === undefined) return;
    this.unknown++;
    this.history.push(op);
  }
}
