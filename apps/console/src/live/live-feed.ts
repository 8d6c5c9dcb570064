import { PeriodicTask } from '@concord/platform';
import type { SystemSources } from '../system/sources.js';
import { assemble, type ConsoleEvent, type ConsoleSnapshot } from '../system/snapshot.js';

/** A message to every open page: the whole picture (small: tens of rows) and what just changed. */
export interface FeedMessage {
  readonly snapshot: ConsoleSnapshot;
  readonly events: readonly ConsoleEvent[];
}

export type Subscriber = (message: FeedMessage) => void;

export interface LiveFeedLimits {
  readonly pollIntervalMs: number;
  /** Events kept for a page that opens later. */
  readonly eventsKept: number;
  /** Pages that may watch at once; one more is refused. */
  readonly subscribersMax: number;
}

/**
 * Polls the system on one timer for every open page (the cost does not grow with viewers) and pushes each new
 * picture to all of them. A page that connects gets the current picture and the recent events at once.
 */
export class LiveFeed {
  private readonly task: PeriodicTask;
  private readonly subscribers = new Set<Subscriber>();
  private latest: { snapshot: ConsoleSnapshot; counts: ReadonlyMap<string, number> | undefined } | undefined;
  private readonly recent: ConsoleEvent[] = [];

  constructor(
    private readonly sources: SystemSources,
    private readonly limits: LiveFeedLimits,
  ) {
    this.task = new PeriodicTask(limits.pollIntervalMs, () => this.refresh());
  }

  start(): void {
    this.task.start({ immediately: true });
  }

  async stop(): Promise<void> {
    await this.task.stop();
    this.subscribers.clear();
  }

  /** One poll: assemble, remember, push. Public so tests can drive it without the timer. */
  async refresh(): Promise<FeedMessage> {
    const poll = await this.sources.poll();
    const { snapshot, events } = assemble(poll, this.latest);
    this.latest = { snapshot, counts: poll.requestCounts };
    this.recent.push(...events);
    if (this.recent.length > this.limits.eventsKept)
      this.recent.splice(0, this.recent.length - this.limits.eventsKept);
    const message = { snapshot, events };
    for (const s of this.subscribers) s(message);
    return message;
  }

  current(): { snapshot: ConsoleSnapshot | undefined; events: readonly ConsoleEvent[] } {
    return { snapshot: this.latest?.snapshot, events: [...this.recent] };
  }

  /** Answers the unsubscribe function, or undefined when too many pages already watch. */
  subscribe(subscriber: Subscriber): (() => void) | undefined {
    if (this.subscribers.size >= this.limits.subscribersMax) return undefined;
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  get watching(): number {
    return this.subscribers.size;
  }
}
