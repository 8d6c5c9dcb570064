import type { Metrics } from '@concord/platform';
import type { BreakerState } from '@concord/resilience';
import { Counter, Gauge, type Histogram } from 'prom-client';

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

type Observer = { observe(value: number): void };

/**
 * The gateway's own series, registered on the platform's registry (scraped at GET /metrics). The request path
 * pays no label hashing: request counts are plain numbers in a Map keyed by (route, status, instance), copied
 * into the counter when Prometheus scrapes; the latency histogram's per-route child is looked up once.
 */
export class GatewayMetrics {
  readonly requests: Counter<'route' | 'status' | 'instance'>;
  readonly latency: Histogram<'route'>;
  readonly breakerState: Gauge<'service' | 'instance'>;
  readonly members: Gauge<'service'>;
  readonly retries: Counter<'route' | 'reason'>;
  readonly retryBudgetExhausted: Counter<'route'>;
  readonly overflows: Counter<'service'>;
  readonly panics: Counter<'service'>;
  readonly rejected: Counter<'reason'>;
  readonly membershipUpdates: Counter<'service' | 'source'>;
  readonly refusedInstances: Counter<'reason'>;
  private readonly requestCounts = new Map<
    string,
    { route: string; status: string; instance: string; n: number }
  >();
  private readonly latencyByRoute = new Map<string, Observer>();
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
        for (const c of counts.values())
          this.inc({ route: c.route, status: c.status, instance: c.instance }, c.n);
      },
    });
    const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    this.latency = metrics.histogram(
      'gateway_request_duration_seconds',
      'Time from request to the end of the answer, retries included, by route prefix.',
      ['route'],
      buckets,
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
    this.overflows = metrics.counter(
      'gateway_bounded_load_overflows_total',
      'Instances passed over because they were at their bounded-load limit.',
      ['service'],
    );
    this.panics = metrics.counter(
      'gateway_panic_routed_total',
      'Requests routed while the service was in panic (too few healthy instances; all offered).',
      ['service'],
    );
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
    let key = `${route}\u0000${status}\u0000${instance}`;
    let entry = this.requestCounts.get(key);
    if (entry === undefined && this.requestCounts.size >= MAX_REQUEST_SERIES) {
      // Bounded: routes and instances come and go; past the cap new combinations share one series.
      key = 'overflow';
      entry = this.requestCounts.get(key);
      route = 'overflow';
      instance = '-';
    }
    if (entry !== undefined) {
      entry.n++;
      return;
    }
    this.requestCounts.set(key, { route, status: String(status), instance, n: 1 });
  }

  observeLatency(route: string, seconds: number): void {
    let child = this.latencyByRoute.get(route);
    if (child === undefined) {
      child = this.latency.labels({ route });
      if (this.latencyByRoute.size < 1_000) this.latencyByRoute.set(route, child);
    }
    child.observe(seconds);
  }

  retry(route: string, reason: string): void {
    this.retries.inc({ route, reason });
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

  breaker(service: string, instance: string, state: BreakerState): void {
    this.breakerState.set({ service, instance }, BREAKER_STATE_VALUE[state]);
  }
}
