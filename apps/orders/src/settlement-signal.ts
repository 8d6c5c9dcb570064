import {
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  Optional,
} from '@nestjs/common';

/**
 * One registered wait: `woken` resolves on a settle of the order or at the timeout; `cancel` releases it early.
 * It resolves with what the settle on this instance passed (the settled order), and with undefined on a timeout,
 * a cancel or a settle announced by another instance (the waiter then reads the order itself).
 */
export interface SettlementWait<T = unknown> {
  readonly woken: Promise<T | undefined>;
  cancel(): void;
}

/**
 * The other orders instances: a settle handled here with nobody waiting here is announced to them, and theirs are
 * followed here, so a `?wait=true` request is woken wherever the orchestrator's `orders.settle` lands (the queue
 * group picks one instance). Delivery is best effort (core NATS): a lost announcement costs one re-check interval, never a
 * wrong answer, because a waiter woken by an announcement reads the order from the database.
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
export class SettlementSignal<T = unknown> implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly waiters = new Map<string, Set<(value?: T) => void>>();

  constructor(@Optional() private readonly peers?: SettlementPeers) {}

  onApplicationBootstrap(): void {
    this.peers?.follow((orderId) => this.notify(orderId));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.peers?.stop();
  }

  /** Registers a waiter for `orderId`, woken by a settle or after `timeoutMs`, whichever comes first. */
  wait(orderId: string, timeoutMs: number): SettlementWait<T> {
    let wake!: (value?: T) => void;
    const woken = new Promise<T | undefined>((resolve) => {
      const set = this.waiters.get(orderId) ?? new Set<(value?: T) => void>();
      this.waiters.set(orderId, set);
      wake = (value?: T): void => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(orderId) === set) this.waiters.delete(orderId);
        resolve(value);
      };
      const timer = setTimeout(() => wake(), Math.max(0, timeoutMs));
      set.add(wake);
    });
    return { woken, cancel: () => wake() };
  }

  /** Resolves on a settle of `orderId` or after `timeoutMs`, whichever comes first. */
  next(orderId: string, timeoutMs: number): Promise<T | undefined> {
    return this.wait(orderId, timeoutMs).woken;
  }

  /**
   * `orderId` settled on this instance: wake its waiters here with `value` (the settled order, which spares them
   * a read), or, when nobody here waits for it, tell the other instances. An order's `?wait=true` request waits
   * on one instance; two requests for the same order on two instances at once (the same Idempotency-Key) would
   * leave the other one to its re-read interval, never to a wrong answer.
   */
  settled(orderId: string, value?: T): void {
    if (!this.notify(orderId, value)) this.peers?.announce(orderId);
  }

  /** Wakes the waiters of `orderId` here; answers whether there were any. */
  notify(orderId: string, value?: T): boolean {
    const set = this.waiters.get(orderId);
    if (set === undefined) return false;
    for (const wake of [...set]) wake(value);
    return true;
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
