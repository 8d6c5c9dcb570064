import { codeOf, retry, type RetryAttempt, retryableFor } from '@concord/resilience';
import type { Dispatcher } from 'undici';
import type { GatewayService } from '../gateway.service.js';
import { breakerKey } from '../upstreams/service-pools.js';
import type { UpstreamInstance } from '../upstreams/static-upstreams.js';
import { type LimitedBody, uploadTimeout } from './request-body.js';
import { NoInstanceError, reasonOf, UpstreamResponseError } from './upstream-errors.js';

export interface Answer {
  readonly response: Dispatcher.ResponseData;
  readonly instance: UpstreamInstance;
}

/** Everything one request needs to go upstream, decided by the edge (route, key, headers, body). */
export interface ExchangeRequest {
  readonly service: string;
  /** Route label of metrics. */
  readonly routeLabel: string;
  readonly keyHash: number;
  readonly method: string;
  /** Upstream path with the query string. */
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: LimitedBody | undefined;
  readonly deadlineMs: number;
  readonly perTryTimeoutMs: number;
  readonly maxAttempts: number;
  /** Extra time granted to tries while a request body is still arriving (0 without a body). */
  readonly uploadAllowanceMs: number;
  /** Aborts when the client goes away: no more tries, nothing counted against the instance. */
  readonly clientGone: AbortSignal;
}

/**
 * One request's trip upstream: tries through `retry` (outside the breaker), each on the next distinct instance
 * of the key's preference order, each through that instance's breaker; passive health and in-flight counts
 * follow every try. Resolves with the upstream's answer (status < 500), or rejects with the last failure: an
 * {@link UpstreamResponseError} (5xx, passed on as is), a timeout, a transport error, or {@link NoInstanceError}.
 */
export class UpstreamExchange {
  readonly tried = new Set<string>();
  lastInstance: UpstreamInstance | undefined;
  private lastFailure: unknown;
  private readonly retryable: (error: unknown) => boolean;

  constructor(
    private readonly gateway: GatewayService,
    private readonly request: ExchangeRequest,
  ) {
    this.retryable = retryableFor(request.method);
  }

  async run(): Promise<Answer> {
    const { request, gateway } = this;
    const budget = gateway.budget(request.service);
    budget.recordRequest();
    try {
      return await retry((attempt) => this.tryOnce(attempt), {
        maxAttempts: request.maxAttempts,
        deadlineMs: request.deadlineMs + request.uploadAllowanceMs,
        perTryTimeoutMs: request.perTryTimeoutMs + request.uploadAllowanceMs,
        // The next try goes to another instance: no reason to wait before it.
        baseDelayMs: 0,
        maxDelayMs: 0,
        signal: request.clientGone,
        shouldRetry: (error) => {
          if (!this.mayRetry(error)) return false;
          const granted = budget.tryAcquireRetry();
          gateway.metrics.retryBudgetAvailable.set({ service: request.service }, budget.available());
          if (!granted) gateway.metrics.retryBudgetExhausted.inc({ route: request.routeLabel });
          return granted;
        },
        onRetry: ({ error }) => {
          gateway.metrics.retries.inc({ route: request.routeLabel, reason: reasonOf(error) });
          if (error instanceof UpstreamResponseError) void error.response.body.dump().catch(() => undefined);
        },
      });
    } catch (error) {
      // "No instance left" after real tries says less than the failure of the last one.
      throw error instanceof NoInstanceError && this.lastFailure !== undefined ? this.lastFailure : error;
    }
  }

  private mayRetry(error: unknown): boolean {
    if (error instanceof NoInstanceError || this.request.clientGone.aborted) return false;
    // A body already (partly) sent upstream cannot be sent again.
    if (this.request.body?.consumed === true) return false;
    return this.retryable(error);
  }

  private async tryOnce({ signal, timeoutMs }: RetryAttempt): Promise<Answer> {
    const { request, gateway } = this;
    const { service } = request;
    const choice = gateway.pools.choose(service, request.keyHash, this.tried);
    if (!choice) throw new NoInstanceError(service);
    const { instance } = choice;
    if (choice.passedOver > 0) gateway.metrics.overflows.inc({ service }, choice.passedOver);
    if (choice.panic) gateway.metrics.panics.inc({ service });
    this.tried.add(instance.id);
    this.lastInstance = instance;
    const breaker = breakerKey(service, instance.id);
    const pool = gateway.clients.pool(breaker, instance);
    // Without a body the retry helper's signal is enough: no extra AbortController on the hot path.
    const upload =
      request.body === undefined ? undefined : uploadTimeout(request.body, signal, request.perTryTimeoutMs);
    const trySignal = upload?.signal ?? signal;
    gateway.pools.acquire(service, instance.id);
    const startedMs = performance.now();
    try {
      const response = await gateway.breakers.fire(
        breaker,
        async () => {
          const answered = await pool.request({
            path: request.path,
            method: request.method,
            headers: request.headers,
            body: request.body ?? null,
            signal: trySignal,
            // The retry helper times the try; undici's own timers are a backstop.
            headersTimeout: timeoutMs + 1_000,
            bodyTimeout: request.deadlineMs,
          });
          if (answered.statusCode >= 500) throw new UpstreamResponseError(answered, instance);
          return answered;
        },
        service,
      );
      gateway.health.recordResponse(service, instance.id, false);
      gateway.metrics.upstreamLatency.observe(
        { service, instance: instance.id },
        (performance.now() - startedMs) / 1000,
      );
      response.body.once('close', () => gateway.pools.release(service, instance.id));
      return { response, instance };
    } catch (error) {
      gateway.pools.release(service, instance.id);
      if (codeOf(error) !== 'EOPENBREAKER' && !request.clientGone.aborted) {
        gateway.health.recordResponse(service, instance.id, true);
      }
      // A try cut by its timeout reports the timeout, not undici's "aborted".
      const reason: unknown = trySignal.reason;
      this.lastFailure = trySignal.aborted && reason instanceof Error ? reason : error;
      throw this.lastFailure;
    } finally {
      upload?.dispose();
    }
  }
}
