import { createCoordination } from '@concord/coordination-client';
import { APP_CONFIG, APP_LOGGER, Metrics, ReadinessRegistry } from '@concord/platform';
import {
  ActiveHealthChecker,
  BreakerRegistry,
  HealthTracker,
  RetryBudget,
  systemClock,
} from '@concord/resilience';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import type { GatewayConfig } from './config.js';
import { JwtVerifier } from './edge/jwt.js';
import { TokenBucketLimiter } from './edge/rate-limiter.js';
import { GatewayMetrics } from './gateway.metrics.js';
import { breakerSettingsByService, RouteTable } from './routing/routes.js';
import { CoordinatorDiscovery } from './upstreams/discovery.js';
import { MembershipBatcher } from './upstreams/membership.js';
import { breakerKey, type ServiceView, ServicePools } from './upstreams/service-pools.js';
import type { UpstreamInstance } from './upstreams/static-upstreams.js';
import { UpstreamClients } from './upstreams/upstream-clients.js';

/**
 * Everything the proxy path reads, wired once from configuration: route table, balancers, health, breakers,
 * retry budgets, upstream pools, token verifier and rate limiter; plus the background work that keeps them
 * current (registry watch, active health checks). The request path itself lives in proxy/proxy.handler.ts.
 */
@Injectable()
export class GatewayService implements OnModuleInit, OnApplicationShutdown {
  readonly health: HealthTracker;
  readonly breakers: BreakerRegistry;
  readonly pools: ServicePools;
  readonly clients: UpstreamClients;
  readonly jwt: JwtVerifier;
  readonly limiter: TokenBucketLimiter | undefined;
  readonly metrics: GatewayMetrics;
  /** SUBJECT_HEADER in lower case, as Node presents request headers. */
  readonly subjectHeader: string;
  private readonly budgets = new Map<string, RetryBudget>();
  private readonly membership: MembershipBatcher;
  private readonly checker: ActiveHealthChecker | undefined;
  private readonly discovery: CoordinatorDiscovery | undefined;
  private readonly configuredRoutes: RouteTable;
  private routeTable: RouteTable;
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(APP_CONFIG) readonly config: GatewayConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    metrics: Metrics,
    private readonly readiness: ReadinessRegistry,
  ) {
    this.metrics = new GatewayMetrics(metrics);
    this.subjectHeader = config.SUBJECT_HEADER.toLowerCase();
    this.health = new HealthTracker({
      rise: config.HEALTH_RISE,
      fall: config.HEALTH_FALL,
      consecutiveFailuresToEject: config.EJECT_CONSECUTIVE_FAILURES,
      baseEjectionMs: config.EJECT_BASE_MS,
      panicThresholdPercent: config.PANIC_THRESHOLD_PERCENT,
    });
    const healthDriven = config.HEALTH_INTERVAL_MS > 0;
    this.breakers = new BreakerRegistry({
      defaults: {
        volumeThreshold: config.BREAKER_VOLUME_THRESHOLD,
        errorThresholdPercentage: config.BREAKER_ERROR_PERCENT,
        resetTimeoutMs: config.BREAKER_RESET_MS,
        // With active checks, a passing probe (not a user request) closes an open breaker.
        healthDriven,
        healthFallbackResetMs: Math.max(config.BREAKER_RESET_MS * 4, 20_000),
      },
      routes: breakerSettingsByService(config.ROUTES ?? []),
    });
    this.breakers.onStateChange((change) => {
      const slash = change.key.indexOf('/');
      const service = change.key.slice(0, slash);
      const instance = change.key.slice(slash + 1);
      this.metrics.breaker(service, instance, change.to);
      this.logger.warn(
        { service, instance, from: change.from, to: change.to, reason: change.reason },
        'breaker',
      );
    });
    this.health.onChange((change) => {
      this.logger.warn(
        { service: change.service, instance: change.id, kind: change.kind },
        'instance health',
      );
    });
    this.pools = new ServicePools({
      algorithm: config.HASH_ALGORITHM,
      loadFactor: config.BOUNDED_LOAD_FACTOR,
      health: this.health,
      breakers: this.breakers,
    });
    this.clients = new UpstreamClients({
      connectionsPerInstance: config.UPSTREAM_CONNECTIONS,
      keepAliveMs: config.UPSTREAM_KEEPALIVE_MS,
      connectTimeoutMs: Math.min(config.PER_TRY_TIMEOUT_MS, 2_000),
    });
    this.jwt = new JwtVerifier({
      hs256Secret: config.JWT_SECRET,
      rs256PublicKeyPem: config.JWT_PUBLIC_KEY,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      clockSkewMs: config.JWT_CLOCK_SKEW_MS,
    });
    this.limiter =
      config.RATE_LIMIT_PER_SECOND > 0
        ? new TokenBucketLimiter(config.RATE_LIMIT_PER_SECOND, config.RATE_LIMIT_BURST)
        : undefined;
    this.configuredRoutes = new RouteTable(config.ROUTES);
    this.routeTable = this.configuredRoutes;
    this.membership = new MembershipBatcher(systemClock, config.MEMBERSHIP_MERGE_MS, (service, instances) =>
      this.applyMembership(service, instances),
    );
    if (healthDriven) {
      this.checker = new ActiveHealthChecker({
        tracker: this.health,
        intervalMs: config.HEALTH_INTERVAL_MS,
        timeoutMs: config.HEALTH_TIMEOUT_MS,
        probe: (service, id, signal) => this.probe(service, id, signal),
        onResult: (result) =>
          this.breakers.reportHealth(breakerKey(result.service, result.id), result.passed),
      });
    }
    const client = createCoordination({
      backend: config.COORDINATION_BACKEND,
      urls: config.COORDINATOR_URLS,
      token: config.COORDINATOR_TOKEN ?? '',
      etcdEndpoints: config.ETCD_ENDPOINTS,
      etcdUsername: config.ETCD_USERNAME,
      etcdPassword: config.ETCD_PASSWORD,
      onWarning: (message) => this.logger.warn({ context: 'coordinator' }, message),
    });
    if (client !== null) {
      this.discovery = new CoordinatorDiscovery(
        client,
        this.membership,
        config.ROUTES_KEY,
        new Set(Object.keys(config.STATIC_UPSTREAMS)),
        {
          onRoutes: (routes) => {
            this.routeTable = routes === undefined ? this.configuredRoutes : new RouteTable(routes);
            this.logger.info({ routes: routes?.length ?? 'from configuration' }, 'route table replaced');
          },
          onWarning: (message, error) =>
            this.logger.warn({ err: error instanceof Error ? error.message : undefined }, message),
        },
      );
    }
  }

  get routes(): RouteTable {
    return this.routeTable;
  }

  /** The retry budget of a service (shared by all its routes). */
  budget(service: string): RetryBudget {
    let budget = this.budgets.get(service);
    if (!budget) {
      budget = new RetryBudget({
        retryRatio: this.config.RETRY_BUDGET_RATIO,
        minRetriesPerSecond: this.config.RETRY_BUDGET_MIN_PER_SECOND,
      });
      this.budgets.set(service, budget);
    }
    return budget;
  }

  async onModuleInit(): Promise<void> {
    for (const [service, instances] of Object.entries(this.config.STATIC_UPSTREAMS)) {
      this.membership.setService(service, instances);
    }
    this.membership.flush();
    const discovery = this.discovery;
    if (discovery) {
      this.readiness.register({
        name: 'coordinator-registry',
        check: async () => {
          // Only the first listing gates readiness; later outages keep the last membership and stay ready.
          if (!discovery.isSynced) throw new Error('registry not listed yet');
        },
      });
      await discovery.start(5_000);
    }
    this.checker?.start();
    // Ejections end lazily on reads; the tick also reports them in the log promptly.
    this.healthTimer = setInterval(() => this.health.tick(), 1_000);
    this.healthTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.discovery?.stop();
    this.membership.stop();
    if (this.healthTimer) clearInterval(this.healthTimer);
    await this.checker?.stop();
    this.breakers.shutdown();
    await this.clients.close();
  }

  views(): ServiceView[] {
    return this.pools.services().flatMap((service) => this.pools.view(service) ?? []);
  }

  private applyMembership(service: string, instances: readonly UpstreamInstance[]): void {
    const { added, removed } = this.pools.setInstances(service, instances);
    for (const id of removed) {
      this.clients.remove(breakerKey(service, id));
      this.metrics.breakerState.remove({ service, instance: id });
    }
    if (instances.length > 0) this.checker?.watch(service);
    else this.checker?.unwatch(service);
    this.metrics.members.set({ service }, instances.length);
    if (added.length > 0 || removed.length > 0) {
      this.metrics.membershipUpdates.inc({ service, source: this.discovery ? 'coordinator' : 'static' });
      this.logger.info({ service, added, removed, size: instances.length }, 'membership changed');
    }
  }

  private async probe(service: string, id: string, signal: AbortSignal): Promise<boolean> {
    const instance = this.pools.instances(service).find((i) => i.id === id);
    if (!instance) return false;
    const response = await this.clients.probeAgent.request({
      origin: instance.url,
      path: this.config.HEALTH_PATH,
      method: 'GET',
      signal,
    });
    await response.body.dump();
    return response.statusCode >= 200 && response.statusCode < 300;
  }
}
