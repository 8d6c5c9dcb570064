import type { Metrics } from '@concord/platform';
import type { BreakerState } from '@concord/resilience';
import type { Counter, Gauge, Histogram } from 'prom-client';

const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, halfOpen: 1, open: 2 };

/** The gateway's own series, registered on the platform's registry (scraped at GET /metrics). */
export class GatewayMetrics {
  readonly requests: Counter<'route' | 'status' | 'instance'>;
  readonly latency: Histogram<'route'>;
  readonly upstreamLatency: Histogram<'service' | 'instance'>;
  readonly breakerState: Gauge<'service' | 'instance'>;
  readonly members: Gauge<'service'>;
  readonly retries: Counter<'route' | 'reason'>;
  readonly retryBudgetExhausted: Counter<'route'>;
  readonly retryBudgetAvailable: Gauge<'service'>;
  readonly overflows: Counter<'service'>;
  readonly panics: Counter<'service'>;
  readonly rejected: Counter<'reason'>;
  readonly membershipUpdates: Counter<'service' | 'source'>;

  constructor(metrics: Metrics) {
    this.requests = metrics.counter(
      'gateway_requests_total',
      'Proxied requests by route prefix, status and upstream instance ("-" when none answered).',
      ['route', 'status', 'instance'],
    );
    const buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    this.latency = metrics.histogram(
      'gateway_request_duration_seconds',
      'Time from request to response headers, retries included, by route prefix.',
      ['route'],
      buckets,
    );
    this.upstreamLatency = metrics.histogram(
      'gateway_upstream_duration_seconds',
      'Time of one upstream try until its response headers, by instance.',
      ['service', 'instance'],
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
    this.retryBudgetAvailable = metrics.gauge(
      'gateway_retry_budget_available',
      'Retries the service budget still allowed when a retry was last considered.',
      ['service'],
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
      'Requests refused at the edge, by reason (auth, rate, body, headers, route).',
      ['reason'],
    );
    this.membershipUpdates = metrics.counter(
      'gateway_membership_updates_total',
      'Membership changes applied to a balancer (after merging), by source.',
      ['service', 'source'],
    );
  }

  breaker(service: string, instance: string, state: BreakerState): void {
    this.breakerState.set({ service, instance }, BREAKER_STATE_VALUE[state]);
  }
}
