import type { Transport } from '../ports.js';
import type { Message, NodeId } from '../types.js';

/**
 * An in-process network for driver tests: messages are delivered on a later macrotask (never re-entrantly),
 * may be dropped, and links may be cut. For deterministic, virtual-time tests use the simulator's network.
 */
export class MemoryNetwork {
  private readonly handlers = new Map<NodeId, (m: Message) => void>();
  private readonly cut = new Set<string>();
  /** Messages to a peer waiting for delivery; bounded like a real send queue. */
  private readonly maxQueuedPerPeer: number;
  private readonly queued = new Map<NodeId, number>();
  delivered = 0;

  constructor(options: { maxQueuedPerPeer?: number } = {}) {
    this.maxQueuedPerPeer = options.maxQueuedPerPeer ?? 10_000;
  }

  transport(id: NodeId): MemoryTransport {
    return new MemoryTransport(id, this);
  }

  register(id: NodeId, handler: (m: Message) => void): void {
    this.handlers.set(id, handler);
  }

  unregister(id: NodeId): void {
    this.handlers.delete(id);
  }

  /** Cuts both directions between a and b. */
  disconnect(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  /** Cuts every link of `id`. */
  isolate(id: NodeId, others: readonly NodeId[]): void {
    for (const o of others) if (o !== id) this.disconnect(id, o);
  }

  heal(): void {
    this.cut.clear();
  }

  deliver(m: Message): void {
    if (this.cut.has(`${m.from}>${m.to}`)) return;
    const q = this.queued.get(m.to) ?? 0;
    if (q >= this.maxQueuedPerPeer) return;
    this.queued.set(m.to, q + 1);
    setImmediate(() => {
      this.queued.set(m.to, (this.queued.get(m.to) ?? 1) - 1);
      if (this.cut.has(`${m.from}>${m.to}`)) return;
      const h = this.handlers.get(m.to);
      if (!h) return;
      this.delivered++;
      h(m);
    });
  }
}

export class MemoryTransport implements Transport {
  private readonly peers = new Map<NodeId, string>();

  constructor(
    readonly id: NodeId,
    private readonly network: MemoryNetwork,
  ) {}

  send(message: Message): void {
    this.network.deliver(message);
  }

  onMessage(handler: (message: Message) => void): void {
    this.network.register(this.id, handler);
  }

  setPeer(id: NodeId, address: string): void {
    this.peers.set(id, address);
  }

  removePeer(id: NodeId): void {
    this.peers.delete(id);
  }

  async close(): Promise<void> {
    this.network.unregister(this.id);
  }
}
