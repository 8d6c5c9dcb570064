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

  constructor(
    private readonly client: Coordination,
    private readonly membership: MembershipBatcher,
    private readonly routesKey: string,
    private readonly staticServices: ReadonlySet<string>,
    private readonly events: DiscoveryEvents,
    private readonly retryDelayMs = 1_000,
  ) {}

  get isSynced(): boolean {
    return this.synced;
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
        await delay(this.retryDelayMs, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
    return undefined;
  }
}
