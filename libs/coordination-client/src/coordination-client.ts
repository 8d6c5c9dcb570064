import { setTimeout as delay } from 'node:timers/promises';
import { BreakerRegistry, failedBeforeSend, retry } from '@concord/resilience';
import type { Coordination, TxnCompare, TxnRequestOp, TxnResponseOp, WatchHandlers } from './coordination.js';
import { CoordinatorHttpError, CoordinatorUnavailableError } from './errors.js';
import { parseSse } from './sse.js';

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease?: string;
}

export interface WatchEvent {
  readonly type: 'put' | 'delete';
  readonly kv: KeyValue;
  readonly revision: number;
}

export interface ServiceInstance {
  readonly id: string;
  readonly url: string;
  readonly zone?: string;
  readonly weight?: number;
  readonly meta?: Record<string, unknown>;
  readonly lease?: string;
  readonly modRevision: number;
}

export interface CoordinationClientOptions {
  /** API URLs of the coordinator nodes (any subset; followers forward to the leader). */
  readonly urls: readonly string[];
  readonly token: string;
  /** Per-attempt timeout of ordinary requests. */
  readonly requestTimeoutMs?: number;
  /** Attempts of a retriable call, across nodes. */
  readonly attempts?: number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  /** Injected for tests; defaults to Math.random. */
  readonly random?: () => number;
  readonly onWarning?: (message: string) => void;
}

interface CallOptions {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
  /** Safe to repeat after an ambiguous failure (the request may have been applied). */
  readonly idempotent: boolean;
  readonly timeoutMs?: number;
  /** Statuses that are answers, not failures (e.g. 404 for a missing key). */
  readonly accept?: readonly number[];
}

/**
 * REST client of the coordinator. Any node serves any request (followers forward to the leader), so the client
 * sticks to the node that last answered and moves to the next on failure. Idempotent calls are retried with
 * exponential backoff and full jitter; others only when the failure happened before the request was sent.
 * A 503 (no leader yet) is retried for every method: the node refused it without applying anything.
 */
export class CoordinationClient implements Coordination {
  readonly backend = 'concord' as const;
  private preferred = 0;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly random: () => number;
  private leaderProbe: Promise<void> | undefined;
  /** One breaker per coordinator node, shared helpers with the gateway (libs/resilience). */
  private readonly breakers: BreakerRegistry;

  constructor(private readonly options: CoordinationClientOptions) {
    if (options.urls.length === 0) throw new Error('CoordinationClient needs at least one coordinator URL');
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.attempts = options.attempts ?? 6;
    this.backoffBaseMs = options.backoffBaseMs ?? 100;
    this.backoffMaxMs = options.backoffMaxMs ?? 2_000;
    this.random = options.random ?? Math.random;
    this.breakers = new BreakerRegistry({
      defaults: { volumeThreshold: 5, errorThresholdPercentage: 50, resetTimeoutMs: 2_000 },
      random: this.random,
    });
  }

  /** Stops the breakers' timers. */
  close(): void {
    this.breakers.shutdown();
  }

  // --- keys -------------------------------------------------------------------------------------------------

  async put(
    key: string,
    value: string,
    opts: { lease?: string; prevRevision?: number } = {},
  ): Promise<{ revision: number }> {
    return this.call({
      method: 'PUT',
      path: `/v1/kv/${encodeKey(key)}`,
      body: { value, ...opts },
      idempotent: opts.prevRevision !== undefined,
    });
  }

  async get(key: string, opts: { serializable?: boolean } = {}): Promise<KeyValue | null> {
    const query = opts.serializable ? '?consistency=serializable' : '';
    const result = await this.call<KeyValue | { status: 404 }>({
      method: 'GET',
      path: `/v1/kv/${encodeKey(key)}${query}`,
      idempotent: true,
      accept: [404],
    });
    return 'key' in result ? result : null;
  }

  async range(
    prefix: string,
    opts: { limit?: number; revision?: number } = {},
  ): Promise<{ revision: number; items: KeyValue[]; more: boolean }> {
    const q = new URLSearchParams({ prefix });
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    if (opts.revision !== undefined) q.set('revision', String(opts.revision));
    return this.call({ method: 'GET', path: `/v1/kv?${q.toString()}`, idempotent: true });
  }

  async delete(
    key: string,
    opts: { prevRevision?: number } = {},
  ): Promise<{ revision: number; deleted: number }> {
    const q = opts.prevRevision === undefined ? '' : `?prevRevision=${opts.prevRevision}`;
    return this.call({ method: 'DELETE', path: `/v1/kv/${encodeKey(key)}${q}`, idempotent: true });
  }

  async txn(body: {
    compare?: readonly TxnCompare[];
    success?: readonly TxnRequestOp[];
    failure?: readonly TxnRequestOp[];
  }): Promise<{ succeeded: boolean; revision: number; responses: TxnResponseOp[] }> {
    return this.call({ method: 'POST', path: '/v1/txn', body, idempotent: false });
  }

  // --- leases, locks, elections, registry ---------------------------------------------------------------------

  async grantLease(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    return this.call({ method: 'POST', path: '/v1/leases', body: { ttlSeconds }, idempotent: false });
  }

  /** The TTL granted again, or null when the lease is gone (expired or revoked). */
  async keepAlive(id: string): Promise<number | null> {
    const result = await this.call<{ ttlSeconds: number } | { status: 404 }>({
      method: 'POST',
      path: `/v1/leases/${id}/keepalive`,
      idempotent: true,
      accept: [404],
    });
    return 'ttlSeconds' in result ? result.ttlSeconds : null;
  }

  async revokeLease(id: string): Promise<void> {
    await this.call({ method: 'DELETE', path: `/v1/leases/${id}`, idempotent: true, accept: [404] });
  }

  async lock(
    name: string,
    lease: string,
    waitMs = 30_000,
    holder?: string,
  ): Promise<{ key: string; fencingToken: number }> {
    // Re-sending is safe: the lock key is derived from the lease, so a repeat finds the same place in line.
    return this.call({
      method: 'POST',
      path: `/v1/locks/${name}`,
      body: holder === undefined ? { lease, waitMs } : { lease, waitMs, holder },
      idempotent: true,
      timeoutMs: waitMs + this.timeoutMs,
    });
  }

  async unlock(name: string, key: string): Promise<void> {
    await this.call({ method: 'DELETE', path: `/v1/locks/${name}/${key}`, idempotent: true });
  }

  async campaign(
    name: string,
    lease: string,
    value: string,
    waitMs = 3_600_000,
  ): Promise<{ key: string; term: number }> {
    return this.call({
      method: 'POST',
      path: `/v1/elections/${name}/campaign`,
      body: { lease, value, waitMs },
      idempotent: true,
      timeoutMs: waitMs + this.timeoutMs,
    });
  }

  async electionLeader(name: string): Promise<{ key: string; value: string; term: number } | null> {
    const result = await this.call<{ key: string; value: string; term: number } | { status: 404 }>({
      method: 'GET',
      path: `/v1/elections/${name}`,
      idempotent: true,
      accept: [404],
    });
    return 'key' in result ? result : null;
  }

  async resign(name: string, key: string): Promise<void> {
    await this.call({
      method: 'POST',
      path: `/v1/elections/${name}/resign`,
      body: { key },
      idempotent: true,
    });
  }

  async services(service: string): Promise<{ revision: number; instances: ServiceInstance[] }> {
    return this.call({ method: 'GET', path: `/v1/services/${service}`, idempotent: true });
  }

  async register(
    service: string,
    instanceId: string,
    value: { url: string; zone?: string; weight?: number; meta?: Record<string, unknown> },
    lease: string,
  ): Promise<{ revision: number }> {
    return this.call({
      method: 'PUT',
      path: `/v1/services/${service}/${instanceId}`,
      body: { ...value, lease },
      idempotent: true,
    });
  }

  async deregister(service: string, instanceId: string): Promise<void> {
    await this.call({ method: 'DELETE', path: `/v1/services/${service}/${instanceId}`, idempotent: true });
  }

  // --- watch ------------------------------------------------------------------------------------------------

  /**
   * Follows changes under a key or prefix. After any disconnect it resumes from the revision after the last
   * event it delivered, so nothing is missed or repeated. If that revision was compacted meanwhile, it lists the
   * prefix afresh, hands the whole current state to `onReset`, and follows from there.
   */
  watch(
    filter: { key: string } | { prefix: string },
    handlers: WatchHandlers,
  ): { stop(): void; readonly lastRevision: number } {
    const controller = new AbortController();
    let next = handlers.fromRevision;
    let lastRevision = (handlers.fromRevision ?? 1) - 1;
    const run = async () => {
      let failures = 0;
      while (!controller.signal.aborted) {
        const url = this.urlFor(this.preferred);
        const q = new URLSearchParams('key' in filter ? { key: filter.key } : { prefix: filter.prefix });
        if (next !== undefined) q.set('fromRevision', String(next));
        // Events before the resume point were delivered already (a lagging node may still send them).
        const resumeFrom = next ?? 0;
        try {
          const response = await fetch(`${url}/v1/watch?${q.toString()}`, {
            headers: { authorization: `Bearer ${this.options.token}`, accept: 'text/event-stream' },
            signal: controller.signal,
          });
          if (response.status === 410) {
            const body = (await response.json()) as { compactRevision?: number };
            const prefix = 'key' in filter ? filter.key : filter.prefix;
            const listed = await this.range(prefix, { limit: 10_000 });
            const items = 'key' in filter ? listed.items.filter((kv) => kv.key === filter.key) : listed.items;
            handlers.onReset?.(items, listed.revision);
            next = listed.revision + 1;
            lastRevision = listed.revision;
            this.options.onWarning?.(
              `watch resumed past compaction ${body.compactRevision}: re-listed at ${listed.revision}`,
            );
            continue;
          }
          if (!response.ok || response.body === null) throw new CoordinatorHttpError(response.status, {});
          failures = 0;
          for await (const message of parseSse(response.body)) {
            const event = JSON.parse(message.data) as WatchEvent;
            if (event.revision < resumeFrom || event.revision < lastRevision) continue;
            lastRevision = event.revision;
            next = event.revision + 1;
            handlers.onEvent(event);
          }
          // A clean end of stream (the node shut down): resume elsewhere.
          this.rotate();
        } catch (error) {
          if (controller.signal.aborted) return;
          handlers.onError?.(error as Error);
          this.rotate();
          failures += 1;
          await delay(this.backoff(failures), undefined, { signal: controller.signal }).catch(
            () => undefined,
          );
        }
      }
    };
    void run();
    return {
      stop: () => controller.abort(),
      get lastRevision() {
        return lastRevision;
      },
    };
  }

  // --- transport --------------------------------------------------------------------------------------------

  /**
   * One logical call: tries through `retry` (full-jitter backoff, a deadline), each on the next node whose
   * breaker is closed. A node that keeps failing gets its breaker opened and is skipped until it recovers.
   */
  private async call<T>(call: CallOptions): Promise<T> {
    await this.discoverLeader();
    const perTryTimeoutMs = call.timeoutMs ?? this.timeoutMs;
    return retry(
      async ({ attempt, signal }) => {
        const index = this.pickNode(attempt);
        const node = this.urlFor(index);
        const answer = await this.breakers.fire(node, async () => {
          const response = await fetch(`${node}${call.path}`, {
            method: call.method,
            headers: {
              authorization: `Bearer ${this.options.token}`,
              ...(call.body === undefined ? {} : { 'content-type': 'application/json' }),
            },
            body: call.body === undefined ? undefined : JSON.stringify(call.body),
            signal,
          });
          const text = await response.text();
          const body = text.length === 0 ? {} : (JSON.parse(text) as Record<string, unknown>);
          if (response.ok) return body;
          if (call.accept?.includes(response.status)) return { status: response.status };
          throw new CoordinatorHttpError(response.status, body, response.headers.get('x-concord-outcome'));
        });
        this.preferred = index;
        return answer as T;
      },
      {
        maxAttempts: this.attempts,
        deadlineMs: perTryTimeoutMs * this.attempts,
        perTryTimeoutMs,
        baseDelayMs: this.backoffBaseMs,
        maxDelayMs: this.backoffMaxMs,
        random: this.random,
        shouldRetry: (error) => {
          if (error instanceof CoordinatorHttpError) {
            // A 503 says whether the request was refused before being proposed (retry anything) or may
            // still commit (retry only what is idempotent).
            if (error.status !== 502 && error.status !== 503) return false;
            return call.idempotent || error.outcome === 'notApplied';
          }
          // fetch wraps socket errors: the code (ECONNREFUSED...) is on its cause.
          const cause = (error as { cause?: unknown }).cause;
          return (
            call.idempotent ||
            failedBeforeSend(error) ||
            failedBeforeSend(cause) ||
            (error as { code?: string }).code === 'EOPENBREAKER'
          );
        },
      },
    ).catch((error: unknown) => {
      if (error instanceof CoordinatorHttpError && error.status < 500) throw error;
      throw new CoordinatorUnavailableError(`coordinator unavailable: ${(error as Error).message}`, {
        cause: error,
      });
    });
  }

  /**
   * Prefers the leader, which serves writes without a forwarding hop: asks a node for `GET /v1/cluster` once,
   * and again after a failure moved the client to another node. Best effort: any node serves any request.
   */
  private discoverLeader(): Promise<void> {
    this.leaderProbe ??= (async () => {
      const node = this.urlFor(this.preferred);
      try {
        const response = await fetch(`${node}/v1/cluster`, {
          headers: { authorization: `Bearer ${this.options.token}` },
          signal: AbortSignal.timeout(1_000),
        });
        if (!response.ok) return;
        const view = (await response.json()) as {
          leader: string | null;
          members: { id: string; apiUrl: string | null }[];
        };
        const leaderUrl = view.members.find((m) => m.id === view.leader)?.apiUrl?.replace(/\/$/, '');
        const index = this.options.urls.findIndex((u) => u.replace(/\/$/, '') === leaderUrl);
        if (index >= 0) this.preferred = index;
      } catch {
        // No answer: keep the current preference; the call itself will move on if needed.
      }
    })();
    return this.leaderProbe;
  }

  /** The preferred node first; on a retry, the next node whose breaker lets a request through. */
  private pickNode(attempt: number): number {
    const count = this.options.urls.length;
    for (let step = attempt - 1; step < attempt - 1 + count; step++) {
      const index = (this.preferred + step) % count;
      if (this.breakers.isAvailable(this.urlFor(index))) return index;
    }
    return (this.preferred + attempt - 1) % count;
  }

  private urlFor(index: number): string {
    const urls = this.options.urls;
    return (urls[index % urls.length] ?? urls[0] ?? '').replace(/\/$/, '');
  }

  private rotate(): void {
    this.preferred = (this.preferred + 1) % this.options.urls.length;
    this.leaderProbe = undefined;
  }

  /** Full jitter: uniform in [0, min(max, base × 2^attempt)). */
  private backoff(attempt: number): number {
    return Math.floor(this.random() * Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** attempt));
  }
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
