import {
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  Optional,
} from '@nestjs/common';

/** One registered wait: `woken` resolves on a settle of the order or at the timeout; `cancel` releases it early. */
export interface SettlementWait {
  readonly woken: Promise<void>;
  cancel(): void;
}

/**
 * The other orders instances: a settle handled here is announced to them, and theirs are followed here, so a
 * `?wait=true` request is woken wherever the orchestrator's `orders.settle` lands (the queue group picks one
 * instance). Delivery is best effort (core NATS): a lost announcement costs one re-check interval, never a
 * wrong answer, because the waiter always reads the order from the database.
 */
export abstract class SettlementPeers {
  /** Tells the other instances that `orderId` settled (fire and forget). */
  abstract announce(orderId: string): void;
  /** Calls `onSettled` for every settle announced by any instance (this one included) until stopped. */
  abstract follow(onSettled: (orderId: string) => void): void;
  abstract stop(): Promise<void>;
}

/**
 * Wakes `?wait=true` requests when their order settles, on this instance (`settled`) or on another one
 * (through {@link SettlementPeers}). A waiter is registered before its order is read, so a settle between the
 * read and the wait is not missed.
 */
@Injectable()
export class SettlementSignal implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(@Optional() private readonly peers?: SettlementPeers) {}

  onApplicationBootstrap(): void {
    this.peers?.follow((orderId) => this.notify(orderId));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.peers?.stop();
  }

  /** Registers a waiter for `orderId`, woken by a settle or after `timeoutMs`, whichever comes first. */
  wait(orderId: string, timeoutMs: number): SettlementWait {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => {
      const set = this.waiters.get(orderId) ?? new Set<() => void>();
      this.waiters.set(orderId, set);
      wake = (): void => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(orderId) === set) this.waiters.delete(orderId);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, timeoutMs));
      set.add(wake);
    });
    return { woken, cancel: () => wake() };
  }

  /** Resolves on a settle of `orderId` or after `timeoutMs`, whichever comes first. */
  next(orderId: string, timeoutMs: number): Promise<void> {
    return this.wait(orderId, timeoutMs).woken;
  }

  /** `orderId` settled on this instance: wake its waiters here and tell the other instances. */
  settled(orderId: string): void {
    this.notify(orderId);
    this.peers?.announce(orderId);
  }

  notify(orderId: string): void {
    const set = this.waiters.get(orderId);
    if (set === undefined) return;
    for (const wake of [...set]) wake();
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
