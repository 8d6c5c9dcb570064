import type { Metrics } from '@concord/platform';
import type { BreakerState } from '@concord/resilience';
import { Counter, Gauge, type Registry } from 'prom-client';

/** What the per-instance gauges read at scrape time (a subset of the pools' view). */
export interface InstanceLoadView {
  readonly service: string;
  readonly instances: readonly {
    readonly id: string;
    readonly inFlight: number;
    readonly ejected: boolean;
  }[];
}

const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, halfOpen: 1, open: 2 };
const MAX_REQUEST_SERIES = 10_000;

const MAX_LATENCY_ROUTES = 1_000;

/** One sample line as prom-client's registry formats it. */
interface SampleLine {
  readonly metricName: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

/**
 * A latency histogram by route whose observation is a Map read and two array increments: per-route bucket
 * counts in a Float64Array, made cumulative only when Prometheus scrapes. (A prom-client histogram child
 * hashes its label object on every observe.) Registered on the registry like any metric (duck-typed:
 * prom-client asks a metric for `get()`).
 */
export class RouteLatencyHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly routes = new Map<string, { counts: Float64Array; sum: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bucketsS: readonly number[],
  ) {}

  observe(route: string, seconds: number): void {
    let entry = this.routes.get(route);
    if (entry === undefined) {
      // Bounded: past the cap, new routes share one series.
      if (this.routes.size >= MAX_LATENCY_ROUTES) route = 'overflow';
      entry = this.routes.get(route);
      if (entry === undefined) {
        entry = { counts: new Float64Array(this.bucketsS.length + 1), sum: 0 };
        this.routes.set(route, entry);
      }
    }
    const buckets = this.bucketsS;
    let i = 0;
    while (i < buckets.length && seconds > buckets[i]!) i++;
    entry.counts[i]!++;
    entry.sum += seconds;
  }

  get(): Promise<{ name: string; help: string; type: 'histogram'; values: SampleLine[]; aggregator: 'sum' }> {
    const values: SampleLine[] = [];
    for (const [route, { counts, sum }] of this.routes) {
      let cumulative = 0;
      for (let i = 0; i < this.bucketsS.length; i++) {
        cumulative += counts[i]!;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { le: this.bucketsS[i]!, route },
          value: cumulative,
        });
      }
      cumulative += counts[this.bucketsS.length]!;
      values.push({
        metricName: `${this.name}_bucket`,
        labels: { le: '+Inf', route },
        value: cumulative,
      });
      values.push({ metricName: `${this.name}_sum`, labels: { route }, value: sum });
      values.push({
        metricName: `${this.name}_count`,
        labels: { route },
        value: cumulative,
      });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: 'histogram',
      values,
      aggregator: 'sum',
    });
  }

  reset(): void {
    this.routes.clear();
  }
}

/**
 * The gateway's own series, registered on the platform's registry (scraped at GET /metrics). The request path
 * pays no label hashing: request counts are plain numbers in a Map keyed by (route, status, instance), copied
 * into the counter when Prometheus scrapes; latencies go to a {@link RouteLatencyHistogram} (plain arrays).
 */
export class GatewayMetrics {
  readonly requests: Counter<'route' | 'status' | 'instance'>;
  readonly latency: RouteLatencyHistogram;
  readonly breakerState: Gauge<'service' | 'instance'>;
  readonly members: Gauge<'service'>;
  readonly retries: Counter<'route' | 'reason'>;
  readonly retryBudgetExhausted: Counter<'route'>;
  /** Instances passed over at their bounded-load limit, per service (plain counts, exported at scrape). */
  private readonly overflowCounts = new Map<string, number>();
  /** Requests routed in panic, per service (plain counts, exported at scrape). */
  private readonly panicCounts = new Map<string, number>();
  readonly rejected: Counter<'reason'>;
  readonly membershipUpdates: Counter<'service' | 'source'>;
  readonly refusedInstances: Counter<'reason'>;
  /** route -> instance -> status -> count: three reads with no key built per request. */
  private readonly requestCounts = new Map<string, Map<string, Map<number, { n: number }>>>();
  private requestSeries = 0;
  private readonly ejectionCounts = new Map<string, { service: string; instance: string; n: number }>();
  private readonly registry: Metrics['registry'];

  constructor(metrics: Metrics) {
    this.registry = metrics.registry;
    const ejections = this.ejectionCounts;
    new Counter({
      name: 'gateway_ejections_total',
      help: 'Passive outlier ejections per instance (consecutive failures took it out of rotation).',
      labelNames: ['service', 'instance'],
      registers: [metrics.registry],
      collect() {
        this.reset();
        for (const e of ejections.values()) this.inc({ service: e.service, instance: e.instance }, e.n);
      },
    });
    const counts = this.requestCounts;
    this.requests = new Counter({
      name: 'gateway_requests_total',
      help: 'Proxied requests by route prefix, status and upstream instance ("-" when none answered).',
      labelNames: ['route', 'status', 'instance'],
      registers: [metrics.registry],
      collect() {
        this.reset();
        for (const [route, byInstance] of counts)
          for (const [instance, byStatus] of byInstance)
            for (const [status, { n }] of byStatus) this.inc({ route, status: String(status), instance }, n);
      },
    });
    const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    this.latency = this.histogram(
      'gateway_request_duration_seconds',
      'Time from request to the end of the answer, retries included, by route prefix.',
      buckets,
      metrics.registry,
    );
    this.breakerState = metrics.gauge(
      'gateway_breaker_state',
      'Circuit breaker state per instance: 0 closed, 1 half-open, 2 open.',
      ['service', 'instance'],
    );
    this.members = metrics.gauge('gateway_ring_members', 'Instances in each service balancer.', ['service']);
    this.retries = metrics.counter(
      'gateway_retries_total',
      'Retries to another instance, by route and reason.',
      ['route', 'reason'],
    );
    this.retryBudgetExhausted = metrics.counter(
      'gateway_retry_budget_exhausted_total',
      'Failures that were retryable but found the retry budget spent.',
      ['route'],
    );
    new Counter({
      name: 'gateway_bounded_load_overflows_total',
      help: 'Instances passed over because they were at their bounded-load limit.',
      labelNames: ['service'],
      registers: [metrics.registry],
      collect: exportPerService(this.overflowCounts),
    });
    new Counter({
      name: 'gateway_panic_routed_total',
      help: 'Requests routed while the service was in panic (too few healthy instances; all offered).',
      labelNames: ['service'],
      registers: [metrics.registry],
      collect: exportPerService(this.panicCounts),
    });
    this.rejected = metrics.counter(
      'gateway_rejected_total',
      'Requests refused at the edge, by reason (auth, forbidden, rate, body, headers).',
      ['reason'],
    );
    this.membershipUpdates = metrics.counter(
      'gateway_membership_updates_total',
      'Membership changes applied to a balancer (after merging), by source.',
      ['service', 'source'],
    );
    this.refusedInstances = metrics.counter(
      'gateway_registry_entries_refused_total',
      'Registry entries ignored as invalid (bad URL, weight outside (0, 1000], not JSON), by reason.',
      ['reason'],
    );
  }

  countRequest(route: string, status: number, instance: string): void {
    let byInstance = this.requestCounts.get(route);
    let byStatus = byInstance?.get(instance);
    let entry = byStatus?.get(status);
    if (entry === undefined) {
      // Bounded: routes and instances come and go; past the cap new combinations share one series.
      if (this.requestSeries >= MAX_REQUEST_SERIES) {
        route = 'overflow';
        instance = '-';
        status = 0;
      }
      byInstance = this.requestCounts.get(route);
      if (byInstance === undefined) {
        byInstance = new Map<string, Map<number, { n: number }>>();
        this.requestCounts.set(route, byInstance);
      }
      byStatus = byInstance.get(instance);
      if (byStatus === undefined) {
        byStatus = new Map<number, { n: number }>();
        byInstance.set(instance, byStatus);
      }
      entry = byStatus.get(status);
      if (entry === undefined) {
        byStatus.set(status, (entry = { n: 0 }));
        this.requestSeries++;
      }
    }
    entry.n++;
  }

  /** An instance was ejected (a plain count, exported at scrape time). */
  ejection(service: string, instance: string): void {
    const key = `${service}\u0000${instance}`;
    const entry = this.ejectionCounts.get(key);
    if (entry !== undefined) entry.n += 1;
    else this.ejectionCounts.set(key, { service, instance, n: 1 });
  }

  /** Per-instance gauges read from the pools when Prometheus scrapes: requests in flight, ejected or not. */
  watchInstances(views: () => readonly InstanceLoadView[]): void {
    new Gauge({
      name: 'gateway_instance_in_flight',
      help: 'Requests in flight to each upstream instance (the bounded-load count).',
      labelNames: ['service', 'instance'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const v of views())
          for (const i of v.instances) this.set({ service: v.service, instance: i.id }, i.inFlight);
      },
    });
    new Gauge({
      name: 'gateway_instance_ejected',
      help: '1 while an upstream instance is ejected by outlier detection, else 0.',
      labelNames: ['service', 'instance'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const v of views()) {
          for (const i of v.instances) this.set({ service: v.service, instance: i.id }, i.ejected ? 1 : 0);
        }
      },
    });
  }

  /** A choice passed over `passedOver` instances at their bounded-load limit, and/or was made in panic. */
  choice(service: string, passedOver: number, panic: boolean): void {
    if (passedOver > 0)
      this.overflowCounts.set(service, (this.overflowCounts.get(service) ?? 0) + passedOver);
    if (panic) this.panicCounts.set(service, (this.panicCounts.get(service) ?? 0) + 1);
  }

  /** A {@link RouteLatencyHistogram} registered on the platform's registry. */
  private histogram(
    name: string,
    help: string,
    bucketsS: number[],
    registry: Registry,
  ): RouteLatencyHistogram {
    const histogram = new RouteLatencyHistogram(name, help, bucketsS);
    registry.registerMetric(histogram as unknown as Parameters<Registry['registerMetric']>[0]);
    return histogram;
  }

  observeLatency(route: string, seconds: number): void {
    this.latency.observe(route, seconds);
  }

  retry(route: string, reason: string): void {
    this.retries.inc({ route, reason });
  }

  breaker(service: string, instance: string, state: BreakerState): void {
    this.breakerState.set({ service, instance }, BREAKER_STATE_VALUE[state]);
  }
}

/** A counter's collect(): copies plain per-service counts into it when Prometheus scrapes. */
function exportPerService(counts: Map<string, number>): (this: Counter<'service'>) => void {
  return function (this: Counter<'service'>) {
    this.reset();
    for (const [service, n] of counts) this.inc({ service }, n);
  };
}
