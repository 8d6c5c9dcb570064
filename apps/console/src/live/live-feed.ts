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
 *
 * The timer runs only while a page watches: an idle console costs the system nothing (every poll reads the
 * coordinators, the gateway and the orchestrator). A one-off read ({@link fresh}) polls once if the picture at hand
 * is older than one interval. Events are changes between consecutive polls, so a change made and undone while
 * nobody watched is not among them.
 */
export class LiveFeed {
  private readonly task: PeriodicTask;
  private readonly subscribers = new Set<Subscriber>();
  private latest: { snapshot: ConsoleSnapshot; counts: ReadonlyMap<string, number> | undefined } | undefined;
  private readonly recent: ConsoleEvent[] = [];
  private started = false;
  private onDemand: Promise<FeedMessage> | undefined;

  constructor(
    private readonly sources: SystemSources,
    private readonly limits: LiveFeedLimits,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.task = new PeriodicTask(limits.pollIntervalMs, () => this.refresh());
  }

  /** Ready to poll: from now on the timer runs whenever a page watches. */
  start(): void {
    this.started = true;
    if (this.subscribers.size > 0) this.task.start({ immediately: true });
  }

  async stop(): Promise<void> {
    this.started = false;
    this.subscribers.clear();
    await this.task.stop();
    await this.onDemand;
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

  /** The picture for a one-off read: the one at hand if at most one interval old, else polled now (once). */
  async fresh(): Promise<{ snapshot: ConsoleSnapshot | undefined; events: readonly ConsoleEvent[] }> {
    const atMs = this.latest?.snapshot.atMs;
    if (atMs === undefined || this.nowMs() - atMs > this.limits.pollIntervalMs) {
      this.onDemand ??= this.refresh().finally(() => (this.onDemand = undefined));
      await this.onDemand.catch(() => undefined);
    }
    return this.current();
  }

  /** Answers the unsubscribe function, or undefined when too many pages already watch. */
  subscribe(subscriber: Subscriber): (() => void) | undefined {
    if (this.subscribers.size >= this.limits.subscribersMax) return undefined;
    this.subscribers.add(subscriber);
    if (this.subscribers.size === 1 && this.started) this.task.start({ immediately: true });
    return () => {
      if (this.subscribers.delete(subscriber) && this.subscribers.size === 0) void this.task.stop();
    };
  }

  get watching(): number {
    return this.subscribers.size;
  }

  /** Whether the timer runs (a page watches). */
  get polling(): boolean {
    return this.task.active;
  }
}
