import { setTimeout as delay } from 'node:timers/promises';
import type { Coordination, KeyValue } from '@concord/coordination-client';
import { type Route, parseRoutesJson } from '../routing/routes.js';
import { type MembershipBatcher, SERVICES_PREFIX } from './membership.js';

export interface DiscoveryEvents {
  /** A valid route table arrived from the coordinator (undefined: the key was deleted, use configuration). */
  onRoutes(routes: Route[] | undefined): void;
  onWarning(message: string, error?: unknown): void;
  /** First successful listing of the registry. */
  onSynced?(): void;
}

/** How fresh the gateway's registry view is: when a linearizable read of the registry last succeeded. */
export interface RegistryFreshness {
  readonly source: 'coordinator';
  /** The first listing arrived (until then only static upstreams route). */
  readonly synced: boolean;
  /** Wall-clock time of the last successful linearizable registry read (a majority of the coordinators answered). */
  readonly lastConfirmedAt: string | null;
  /** Milliseconds since then: how stale the membership in use may be (null before the first listing). */
  readonly stalenessMs: number | null;
  /** How often the gateway tries to confirm its view. */
  readonly confirmIntervalMs: number;
  /** Why the last confirmation failed (null when the last one succeeded). */
  readonly lastError: string | null;
}

export interface DiscoveryTiming {
  /** Wall clock (epoch ms), injected. */
  readonly now: () => number;
  /** Pause between retries of a failed listing. */
  readonly retryDelayMs: number;
  /** Interval of the confirmation reads while following. */
  readonly confirmIntervalMs: number;
}

const defaultTiming: DiscoveryTiming = { now: Date.now, retryDelayMs: 1_000, confirmIntervalMs: 2_000 };

/**
 * Follows the coordinator's registry (`services/{service}/{id}`) and the route key. Listing first, then a watch
 * from the listed revision, so no change falls between the two. The watch resumes by itself after disconnects and
 * re-lists after compaction (onReset). While the coordinator is unreachable nothing is cleared: the last known
 * membership and routes stay in use. Static services (STATIC_UPSTREAMS) the registry does not know are kept.
 */
export class CoordinatorDiscovery {
  private readonly stops: (() => void)[] = [];
  private readonly abort = new AbortController();
  private synced = false;
  private lastConfirmedMs: number | undefined;
  private lastError: string | null = null;
  private readonly timing: DiscoveryTiming;

  constructor(
    private readonly client: Coordination,
    private readonly membership: MembershipBatcher,
    private readonly routesKey: string,
    private readonly staticServices: ReadonlySet<string>,
    private readonly events: DiscoveryEvents,
    timing: Partial<DiscoveryTiming> = {},
  ) {
    this.timing = { ...defaultTiming, ...timing };
  }

  get isSynced(): boolean {
    return this.synced;
  }

  /**
   * How stale the membership in use may be. The watch alone cannot tell (a watch served by a node cut off from
   * its peers stays open and silent), so the gateway confirms with a linearizable read every confirmIntervalMs:
   * while the coordinator has no majority the confirmations fail, routing goes on from the last-known membership
   * (available, possibly stale: AP) and stalenessMs grows.
   */
  freshness(): RegistryFreshness {
    const last = this.lastConfirmedMs;
    return {
      source: 'coordinator',
      synced: this.synced,
      lastConfirmedAt: last === undefined ? null : new Date(last).toISOString(),
      stalenessMs: last === undefined ? null : Math.max(0, this.timing.now() - last),
      confirmIntervalMs: this.timing.confirmIntervalMs,
      lastError: this.lastError,
    };
  }

  /** Starts following in the background; resolves after the first listing, or after `waitMs` whatever happens. */
  async start(waitMs: number): Promise<void> {
    const first = this.follow();
    await Promise.race([
      first,
      delay(waitMs, undefined, { signal: this.abort.signal }).catch(() => undefined),
    ]);
  }

  stop(): void {
    this.abort.abort();
    for (const stop of this.stops) stop();
    this.client.close();
  }

  private async follow(): Promise<void> {
    const services = await this.untilListed(() => this.client.range(SERVICES_PREFIX, { limit: 10_000 }));
    if (services === undefined) return;
    this.membership.reset(services.items, this.staticServices);
    this.membership.flush();
    this.synced = true;
    this.confirmed();
    this.events.onSynced?.();
    const watch = this.client.watch(
      { prefix: SERVICES_PREFIX },
      {
        fromRevision: services.revision + 1,
        onEvent: (event) =>
          this.membership.apply(
            event.type === 'put'
              ? { type: 'put', key: event.kv.key, value: event.kv.value }
              : { type: 'delete', key: event.kv.key },
          ),
        onReset: (items) => this.membership.reset(items, this.staticServices),
        onError: (error) =>
          this.events.onWarning('registry watch interrupted; keeping last membership', error),
      },
    );
    this.stops.push(() => watch.stop());

    const routes = await this.untilListed(() => this.client.range(this.routesKey, { limit: 1 }));
    if (routes === undefined) return;
    this.applyRoutes(routes.items.find((kv) => kv.key === this.routesKey));
    const routeWatch = this.client.watch(
      { key: this.routesKey },
      {
        fromRevision: routes.revision + 1,
        onEvent: (event) => this.applyRoutes(event.type === 'put' ? event.kv : undefined),
        onReset: (items) => this.applyRoutes(items.find((kv) => kv.key === this.routesKey)),
      },
    );
    this.stops.push(() => routeWatch.stop());
    void this.confirmPeriodically();
  }

  private confirmed(): void {
    this.lastConfirmedMs = this.timing.now();
    this.lastError = null;
  }

  /** One cheap linearizable read (limit 1) per interval: success means a majority of the coordinators answered. */
  private async confirmPeriodically(): Promise<void> {
    while (!this.abort.signal.aborted) {
      await delay(this.timing.confirmIntervalMs, undefined, { signal: this.abort.signal }).catch(
        () => undefined,
      );
      if (this.abort.signal.aborted) return;
      try {
        await this.client.range(SERVICES_PREFIX, { limit: 1 });
        this.confirmed();
      } catch (error) {
        this.lastError = (error as Error).message;
      }
    }
  }

  private applyRoutes(kv: KeyValue | undefined): void {
    if (kv === undefined) {
      this.events.onRoutes(undefined);
      return;
    }
    try {
      this.events.onRoutes(parseRoutesJson(kv.value));
    } catch (error) {
      this.events.onWarning(`ignoring invalid routes at ${this.routesKey}: ${(error as Error).message}`);
    }
  }

  /** Retries a listing until it succeeds or discovery stops (the client already retries across nodes). */
  private async untilListed<T>(list: () => Promise<T>): Promise<T | undefined> {
    while (!this.abort.signal.aborted) {
      try {
        return await list();
      } catch (error) {
        this.events.onWarning('coordinator unreachable; keeping last membership', error);
        await delay(this.timing.retryDelayMs, undefined, { signal: this.abort.signal }).catch(
          () => undefined,
        );
      }
    }
    return undefined;
  }
}
