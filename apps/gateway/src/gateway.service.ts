import { createCoordination } from '@concord/coordination-client';
import { APP_CONFIG, APP_LOGGER, Metrics, ReadinessRegistry, tracingOn } from '@concord/platform';
import {
  ActiveHealthChecker,
  type CallBreakerSettings,
  type Clock,
  DEFAULT_BREAKER_SETTINGS,
  HealthTracker,
  systemClock,
} from '@concord/resilience';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Agent, Pool } from 'undici';
import type { GatewayConfig } from './config.js';
import { ClientTokenVerifier } from './edge/client-tokens.js';
import { InternalTokenMinter } from './edge/internal-tokens.js';
import { TokenBucketLimiter } from './edge/rate-limiter.js';
import { GatewayMetrics } from './gateway.metrics.js';
import { ProxyHandler } from './proxy/proxy.handler.js';
import { openTelemetryProxyTracing } from './proxy/proxy-tracing.js';
import { breakerSettingsByService, RouteTable } from './routing/routes.js';
import { CoordinatorDiscovery, type RegistryFreshness } from './upstreams/discovery.js';
import { MembershipBatcher } from './upstreams/membership.js';
import { type ServiceView, ServicePools } from './upstreams/service-pools.js';
import type { UpstreamInstance } from './upstreams/static-upstreams.js';

/**
 * Wires the gateway once from configuration and owns its background work (registry watch, active health
 * checks, the ejection tick). The request path ({@link ProxyHandler}) receives its collaborators explicitly:
 * route table, pools (balancer, breakers, budgets, connection pools), token verifier and minter, limiter,
 * metrics, clock. Nothing here is a bag of public fields for others to reach into.
 */
@Injectable()
export class GatewayService implements OnModuleInit, OnApplicationShutdown {
  readonly proxy: ProxyHandler;
  private readonly clock: Clock = systemClock;
  private readonly health: HealthTracker;
  private readonly pools: ServicePools<Pool>;
  private readonly probeAgent: Agent;
  private readonly metrics: GatewayMetrics;
  private readonly membership: MembershipBatcher;
  private readonly checker: ActiveHealthChecker | undefined;
  private readonly discovery: CoordinatorDiscovery | undefined;
  private readonly configuredRoutes: RouteTable;
  private routeTable: RouteTable;
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: GatewayConfig,
    @Inject(APP_LOGGER) private readonly logger: Logger,
    metrics: Metrics,
    private readonly readiness: ReadinessRegistry,
  ) {
    this.metrics = new GatewayMetrics(metrics);
    this.health = new HealthTracker(
      {
        rise: config.HEALTH_RISE,
        fall: config.HEALTH_FALL,
        consecutiveFailuresToEject: config.EJECT_CONSECUTIVE_FAILURES,
        baseEjectionMs: config.EJECT_BASE_MS,
        panicThresholdPercent: config.PANIC_THRESHOLD_PERCENT,
      },
      this.clock,
    );
    const healthDriven = config.HEALTH_INTERVAL_MS > 0;
    const perService = breakerSettingsByService(config.ROUTES ?? []);
    const breakerSettings = (service: string): CallBreakerSettings => ({
      ...DEFAULT_BREAKER_SETTINGS,
      volumeThreshold: config.BREAKER_VOLUME_THRESHOLD,
      errorThresholdPercentage: config.BREAKER_ERROR_PERCENT,
      resetTimeoutMs: config.BREAKER_RESET_MS,
      // With active checks, a passing probe (not a user request) closes an open breaker.
      healthDriven,
      healthFallbackResetMs: Math.max(config.BREAKER_RESET_MS * 4, 20_000),
      ...perService[service],
    });
    const connectTimeoutMs = Math.min(config.PER_TRY_TIMEOUT_MS, 2_000);
    this.pools = new ServicePools<Pool>({
      algorithm: config.HASH_ALGORITHM,
      loadFactor: config.BOUNDED_LOAD_FACTOR,
      health: this.health,
      clock: this.clock,
      breakerSettings,
      budget: {
        retryRatio: config.RETRY_BUDGET_RATIO,
        minRetriesPerSecond: config.RETRY_BUDGET_MIN_PER_SECOND,
      },
      openClient: (instance) =>
        new Pool(instance.url, {
          connections: config.UPSTREAM_CONNECTIONS,
          pipelining: 1,
          keepAliveTimeout: config.UPSTREAM_KEEPALIVE_MS,
          connect: { timeout: connectTimeoutMs },
        }),
      // Requests in flight finish first.
      closeClient: (pool) => void pool.close().catch(() => undefined),
      onBreakerChange: (service, instance, change) => {
        this.metrics.breaker(service, instance, change.to);
        this.logger.warn(
          { service, instance, from: change.from, to: change.to, reason: change.reason },
          'breaker',
        );
      },
    });
    // Health probes use their own small agent: a probe never queues behind a pool stuck on a stalled instance.
    this.probeAgent = new Agent({
      connections: 2,
      keepAliveTimeout: config.UPSTREAM_KEEPALIVE_MS,
      connect: { timeout: connectTimeoutMs },
    });
    this.metrics.watchInstances(() => this.views());
    this.health.onChange((change) => {
      if (change.kind === 'ejected') this.metrics.ejection(change.service, change.id);
      this.pools.invalidate(change.service);
      this.logger.warn(
        { service: change.service, instance: change.id, kind: change.kind },
        'instance health',
      );
    });
    const verifier =
      config.JWT_SECRET !== undefined ||
      config.JWT_PUBLIC_KEY !== undefined ||
      config.JWT_JWKS_URL !== undefined
        ? new ClientTokenVerifier({
            hs256Secret: config.JWT_SECRET,
            publicKeyPem: config.JWT_PUBLIC_KEY,
            jwksUrl: config.JWT_JWKS_URL,
            jwksCooldownMs: config.JWT_JWKS_COOLDOWN_MS,
            issuer: config.JWT_ISSUER,
            audience: config.JWT_AUDIENCE,
            maxLifetimeS: config.JWT_MAX_LIFETIME_S,
            clockSkewS: Math.ceil(config.JWT_CLOCK_SKEW_MS / 1000),
          })
        : undefined;
    const minter =
      config.INTERNAL_TOKEN_PRIVATE_KEY === undefined
        ? undefined
        : new InternalTokenMinter({
            privateKeyPem: config.INTERNAL_TOKEN_PRIVATE_KEY,
            kid: config.INTERNAL_TOKEN_KID,
            ttlS: config.INTERNAL_TOKEN_TTL_S,
          });
    this.configuredRoutes = new RouteTable(config.ROUTES);
    this.routeTable = this.configuredRoutes;
    this.proxy = new ProxyHandler({
      settings: {
        subjectHeader: config.SUBJECT_HEADER.toLowerCase(),
        headerLimitBytes: config.HEADER_LIMIT_BYTES,
        bodyLimitBytes: config.BODY_LIMIT_BYTES,
        routeTimeoutMs: config.ROUTE_TIMEOUT_MS,
        perTryTimeoutMs: config.PER_TRY_TIMEOUT_MS,
        maxAttempts: config.MAX_ATTEMPTS,
        clientRequestTimeoutMs: config.CLIENT_REQUEST_TIMEOUT_MS,
      },
      routes: () => this.routeTable,
      pools: this.pools,
      verifier,
      minter,
      limiter:
        config.RATE_LIMIT_PER_SECOND > 0
          ? new TokenBucketLimiter(config.RATE_LIMIT_PER_SECOND, config.RATE_LIMIT_BURST)
          : undefined,
      recordHealth: (service, id, failed) => this.health.recordResponse(service, id, failed),
      metrics: this.metrics,
      clock: this.clock,
      epochMs: Date.now,
      logger,
      // Tracing is decided at boot (OTEL_* variables): off, the request path pays one `if` per hook point.
      ...(tracingOn ? { tracing: openTelemetryProxyTracing } : {}),
    });
    this.membership = new MembershipBatcher(
      this.clock,
      config.MEMBERSHIP_MERGE_MS,
      (service, instances) => this.applyMembership(service, instances),
      (key, reason) => {
        this.metrics.refusedInstances.inc({ reason });
        this.logger.warn({ key, reason }, 'registry entry refused');
      },
    );
    if (healthDriven) {
      this.checker = new ActiveHealthChecker({
        tracker: this.health,
        intervalMs: config.HEALTH_INTERVAL_MS,
        timeoutMs: config.HEALTH_TIMEOUT_MS,
        probe: (service, id, signal) => this.probe(service, id, signal),
        onResult: (result) =>
          this.pools.slot(result.service, result.id)?.breaker.reportHealth(result.passed, this.clock.nowMs()),
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
        { now: Date.now },
      );
    }
  }

  /** How fresh the registry view is (undefined: membership comes from configuration only). */
  registryFreshness(): RegistryFreshness | undefined {
    return this.discovery?.freshness();
  }

  get routes(): RouteTable {
    return this.routeTable;
  }

  get settings(): { readonly algorithm: string; readonly boundedLoadFactor: number } {
    return { algorithm: this.config.HASH_ALGORITHM, boundedLoadFactor: this.config.BOUNDED_LOAD_FACTOR };
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
    // Ejections end lazily on reads; the tick reports them (and refreshes routing snapshots) promptly.
    this.healthTimer = setInterval(() => this.health.tick(), 1_000);
    this.healthTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.discovery?.stop();
    this.membership.stop();
    if (this.healthTimer) clearInterval(this.healthTimer);
    await this.checker?.stop();
    this.pools.close();
    await this.probeAgent.destroy().catch(() => undefined);
  }

  views(): ServiceView[] {
    return this.pools.services().flatMap((service) => this.pools.view(service) ?? []);
  }

  private applyMembership(service: string, instances: readonly UpstreamInstance[]): void {
    const { added, removed } = this.pools.setInstances(service, instances);
    for (const id of removed) this.metrics.breakerState.remove({ service, instance: id });
    if (instances.length > 0) this.checker?.watch(service);
    else this.checker?.unwatch(service);
    this.metrics.members.set({ service }, instances.length);
    if (added.length > 0 || removed.length > 0) {
      this.metrics.membershipUpdates.inc({ service, source: this.discovery ? 'coordinator' : 'static' });
      this.logger.info({ service, added, removed, size: instances.length }, 'membership changed');
    }
  }

  private async probe(service: string, id: string, signal: AbortSignal): Promise<boolean> {
    const slot = this.pools.slot(service, id);
    if (!slot) return false;
    const response = await this.probeAgent.request({
      origin: slot.instance.url,
      path: this.config.HEALTH_PATH,
      method: 'GET',
      signal,
    });
    await response.body.dump();
    return response.statusCode >= 200 && response.statusCode < 300;
  }
}
