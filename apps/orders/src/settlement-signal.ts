import { Injectable } from '@nestjs/common';

/**
 * Wakes `?wait=true` requests on this instance when their order settles here. Settles handled by another
 * instance are found by polling, so a missed signal costs a poll interval, never a wrong answer.
 */
@Injectable()
export class SettlementSignal {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves on `notify(orderId)` or after `timeoutMs`, whichever comes first. */
  next(orderId: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const set = this.waiters.get(orderId) ?? new Set<() => void>();
      this.waiters.set(orderId, set);
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(orderId);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      set.add(done);
    });
  }

  notify(orderId: string): void {
    for (const wake of [...(this.waiters.get(orderId) ?? [])]) wake();
  }

  get waiting(): number {
    return this.waiters.size;
  }
}
