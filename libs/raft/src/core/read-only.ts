import type { NodeId } from '../types.js';

/**
 * Pending ReadIndex requests on a leader (Raft thesis §6.4). Each records the commit index when it
 * arrived; it is served once a majority has answered a heartbeat carrying its context, which proves the
 * leader was still the leader when the read arrived. Served in arrival order: confirming a later round
 * also confirms every earlier one.
 */
export interface PendingRead {
  readonly context: string;
  readonly index: number;
  /** The follower that forwarded the request, or null when it is the leader's own. */
  readonly from: NodeId | null;
  readonly acks: Set<NodeId>;
}

export class ReadOnlyQueue {
  private readonly queue: PendingRead[] = [];
  private readonly byContext = new Map<string, PendingRead>();

  constructor(private readonly maxPending: number) {}

  /** False when the queue is full or the context is already pending. */
  add(context: string, index: number, from: NodeId | null, self: NodeId): boolean {
    if (this.queue.length >= this.maxPending || this.byContext.has(context)) return false;
    const read: PendingRead = { context, index, from, acks: new Set([self]) };
    this.queue.push(read);
    this.byContext.set(context, read);
    return true;
  }

  /** Records a heartbeat ack; returns how many distinct nodes have acked the round. */
  ack(context: string, from: NodeId): Set<NodeId> | undefined {
    const read = this.byContext.get(context);
    if (!read) return undefined;
    read.acks.add(from);
    return read.acks;
  }

  /** Removes and returns every read up to and including `context`. */
  release(context: string): PendingRead[] {
    const at = this.queue.findIndex((r) => r.context === context);
    if (at < 0) return [];
    const out = this.queue.splice(0, at + 1);
    for (const r of out) this.byContext.delete(r.context);
    return out;
  }

  lastContext(): string | undefined {
    return this.queue.at(-1)?.context;
  }

  size(): number {
    return this.queue.length;
  }

  clear(): PendingRead[] {
    const out = this.queue.splice(0);
    this.byContext.clear();
    return out;
  }
}
