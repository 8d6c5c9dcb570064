import type { KvOperation } from '@concord/lincheck';
import {
  completedOperation,
  randomKvCommand,
  unknownOperation,
  type KvCommand,
  type KvResult,
  type NodeId,
  type Xoshiro128,
} from '@concord/raft';

/** What the clients need of a replicated log, whichever protocol runs it. */
export interface ReplicatedLog {
  readonly ids: readonly NodeId[];
  readonly now: number;
  after(delayMs: number, run: () => void): void;
  /** Hands a command to a node: refused (with a hint of the leader) or taken. */
  submit(node: NodeId, data: Uint8Array): { ok: true } | { ok: false; leaderHint: NodeId | null };
  /** Every application of a command on any node, with the state machine's result. */
  onApply(listener: (node: NodeId, data: Uint8Array | null, result: KvResult) => void): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A command's bytes: the KV command plus a unique id, so its application can be recognised on any node. */
export function encodeTaggedCommand(cmd: KvCommand, id: string): Uint8Array {
  return encoder.encode(JSON.stringify({ ...cmd, id }));
}

/** The id a tagged command carries. */
export function commandTag(data: Uint8Array | null): string | undefined {
  if (data === null) return undefined;
  try {
    const parsed = JSON.parse(decoder.decode(data)) as { id?: unknown };
    return typeof parsed.id === 'string' ? parsed.id : undefined;
  } catch {
    return undefined;
  }
}

interface InFlight {
  readonly cmd: KvCommand;
  readonly tag: string;
  readonly call: number;
  readonly deadline: number;
}

/**
 * Concurrent clients doing put, get and cas through a replicated log (reads go through the log too, which makes
 * them linearizable without leases). Each operation is recorded with call and return times; one whose outcome
 * the client cannot know (its deadline passed) is recorded with `return: null`. A command's outcome is its first
 * application anywhere: every node applies the same command at the same slot with the same result.
 */
export class LogKvClients {
  readonly history: KvOperation[] = [];
  /** Commands acknowledged to a client, by tag, with the value a put wrote (for the "commands lost" count). */
  readonly acknowledged = new Map<string, KvCommand>();
  private readonly inflight = new Map<number, InFlight>();
  private readonly byTag = new Map<string, number>();
  private readonly leaderGuess = new Map<number, NodeId>();
  private running = true;
  private seq = 0;
  completed = 0;
  unknown = 0;
  /** Virtual ms from call to return of each completed operation. */
  readonly latenciesMs: number[] = [];

  constructor(
    private readonly log: ReplicatedLog,
    private readonly random: Xoshiro128,
    private readonly clients: number,
    private readonly keys: readonly string[],
    private readonly timeoutMs: number,
  ) {
    log.onApply((_node, data, result) => {
      const tag = commandTag(data);
      if (tag === undefined) return;
      const client = this.byTag.get(tag);
      if (client === undefined) return;
      const f = this.inflight.get(client);
      if (f?.tag === tag) this.finish(client, f, result);
    });
    for (let c = 0; c < clients; c++) this.schedule(c, 1 + random.int(20));
  }

  stop(): void {
    this.running = false;
  }

  drain(): void {
    for (const [client, f] of this.inflight) this.recordUnknown(client, f);
    this.inflight.clear();
  }

  pending(): number {
    return this.inflight.size;
  }

  private schedule(client: number, delayMs: number): void {
    this.log.after(delayMs, () => this.issue(client));
  }

  private issue(client: number): void {
    if (!this.running) return;
    const value = `c${client}-${this.seq++}`;
    const cmd = randomKvCommand(this.random, this.keys, value, this.clients, this.seq);
    const node = this.leaderGuess.get(client) ?? this.log.ids[this.random.int(this.log.ids.length)]!;
    const tag = `t${client}-${this.seq++}`;
    const r = this.log.submit(node, encodeTaggedCommand(cmd, tag));
    if (!r.ok) {
      if (r.leaderHint) this.leaderGuess.set(client, r.leaderHint);
      else this.leaderGuess.delete(client);
      this.schedule(client, 5 + this.random.int(20));
      return;
    }
    this.leaderGuess.set(client, node);
    const call = this.log.now;
    const f: InFlight = { cmd, tag, call, deadline: call + this.timeoutMs };
    this.inflight.set(client, f);
    this.byTag.set(tag, client);
    this.log.after(this.timeoutMs, () => {
      if (this.inflight.get(client) !== f) return;
      this.inflight.delete(client);
      this.byTag.delete(tag);
      this.recordUnknown(client, f);
      this.leaderGuess.delete(client);
      this.schedule(client, 1);
    });
  }

  private finish(client: number, f: InFlight, result: KvResult): void {
    this.inflight.delete(client);
    this.byTag.delete(f.tag);
    this.completed++;
    this.acknowledged.set(f.tag, f.cmd);
    this.latenciesMs.push(this.log.now - f.call);
    this.history.push(completedOperation(client, f.cmd, f.call, this.log.now, result));
    this.schedule(client, this.random.int(10));
  }

  private recordUnknown(client: number, f: InFlight): void {
    const op = unknownOperation(client, f.cmd, f.call);
    if (op === undefined) return;
    this.unknown++;
    this.history.push(op);
  }
}

/** A Multi-Paxos cluster seen as a {@link ReplicatedLog}. */
export function paxosLog(c: {
  readonly ids: readonly NodeId[];
  readonly now: number;
  after(delayMs: number, run: () => void): void;
  propose(id: NodeId, data: Uint8Array): { ok: true } | { ok: false; leaderHint: NodeId | null };
  onApply(l: (e: { node: NodeId; value: Uint8Array | null; result: KvResult }) => void): void;
}): ReplicatedLog {
  return {
    ids: c.ids,
    get now() {
      return c.now;
    },
    after: (ms, run) => c.after(ms, run),
    submit: (node, data) => {
      const r = c.propose(node, data);
      return r.ok ? { ok: true } : r;
    },
    onApply: (l) => c.onApply((e) => l(e.node, e.value, e.result)),
  };
}
