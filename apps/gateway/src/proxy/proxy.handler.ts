import type { IncomingMessage, ServerResponse } from 'node:http';
import { hashKey } from '@concord/hashring';
import { problem, tracingOn } from '@concord/platform';
import type { Clock } from '@concord/resilience';
import type { Logger } from 'pino';
import type { Pool } from 'undici';
import type { ClientTokenVerifier, TokenResult, VerifiedToken } from '../edge/client-tokens.js';
import type { InternalTokenMinter } from '../edge/internal-tokens.js';
import type { TokenBucketLimiter } from '../edge/rate-limiter.js';
import type { GatewayMetrics } from '../gateway.metrics.js';
import { extractHashKey, type RouteMatch, type RouteTable } from '../routing/routes.js';
import type { ServicePools } from '../upstreams/service-pools.js';
import { Exchange, type ExchangeDependencies, type ExchangeOutcome } from './exchange.js';
import { headerBytes, upstreamRequestHeaders } from './headers.js';
import { traceProxiedRequest, withTraceHeaders } from './proxy-tracing.js';
import { type LimitedBody, limitBody } from './request-body.js';
import { RequestIds } from './request-ids.js';

const PROXY_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Paths the gateway serves itself (through Nest): never proxied, whatever the route table says. */
const OWN_PATHS = ['/health', '/metrics', '/admin', '/docs'];

export interface ProxySettings {
  readonly subjectHeader: string;
  readonly headerLimitBytes: number;
  readonly bodyLimitBytes: number;
  readonly routeTimeoutMs: number;
  readonly perTryTimeoutMs: number;
  readonly maxAttempts: number;
  readonly clientRequestTimeoutMs: number;
}

/** Everything the request path reads, passed explicitly. */
export interface ProxyDependencies {
  readonly settings: ProxySettings;
  readonly routes: () => RouteTable;
  readonly pools: ServicePools<Pool>;
  readonly verifier: ClientTokenVerifier | undefined;
  readonly minter: InternalTokenMinter | undefined;
  readonly limiter: TokenBucketLimiter | undefined;
  readonly recordHealth: (service: string, id: string, failed: boolean) => void;
  readonly metrics: GatewayMetrics;
  /** Monotonic time (deadlines, breakers, rate limits). */
  readonly clock: Clock;
  /** Wall-clock time in epoch milliseconds (token exp, nbf, iat). */
  readonly epochMs: () => number;
  readonly logger: Logger;
}

/** What the edge decided about a request it let through. */
interface Admitted {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly match: RouteMatch;
  readonly requestId: string;
  readonly startedMs: number;
  token: VerifiedToken | undefined;
  /** With tracing on: the `traceparent` (and `tracestate`) header pairs of the gateway's span. */
  readonly traceHeaders: string[] | undefined;
}

/**
 * The request path, as a plain node:http handler in front of Fastify: requests a route matches are served
 * here; everything else (health, metrics, admin, docs, 404s) falls through to Nest. The proxy uses none of
 * Nest's or Fastify's per-request machinery (hooks, request context, per-request log line), so it does not
 * pay for it. Per request: header-size check, route match, token (cached verification), rate limit, internal
 * token (cached per identity), then an {@link Exchange} upstream. The request id travels explicitly.
 */
export class ProxyHandler {
  private readonly ids = new RequestIds();
  private readonly exchangeDeps: ExchangeDependencies;

  constructor(private readonly deps: ProxyDependencies) {
    const { metrics } = deps;
    this.exchangeDeps = {
      pools: deps.pools,
      clock: deps.clock,
      recordHealth: deps.recordHealth,
      onRetry: (route, reason) => metrics.retry(route, reason),
      onBudgetExhausted: (route) => metrics.retryBudgetExhausted.inc({ route }),
      onChoice: (service, passedOver, panic) => {
        if (passedOver > 0) metrics.overflows.inc({ service }, passedOver);
        if (panic) metrics.panics.inc({ service });
      },
      onDone: (context, outcome) => this.done(context as Admitted, outcome),
    };
  }

  /**
   * Serves `req` if a route matches it (true), or leaves it to the next handler (false). Wire it as the
   * server's first 'request' listener.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    for (const own of OWN_PATHS) {
      if (url.startsWith(own) && (url.length === own.length || '/?'.includes(url[own.length]!))) return false;
    }
    const match = this.deps.routes().match(url);
    if (match === undefined || !PROXY_METHODS.has(req.method ?? '')) return false;
    const requestId = this.ids.from(req.headers['x-request-id']);
    const admitted: Admitted = {
      req,
      res,
      match,
      requestId,
      startedMs: performance.now(),
      token: undefined,
      traceHeaders: tracingOn ? traceProxiedRequest(req, res, match.route.prefix) : undefined,
    };
    res.setHeader('x-request-id', requestId);
    const limitBytes = this.deps.settings.headerLimitBytes;
    if (headerBytes(req.rawHeaders) > limitBytes) {
      this.refuse(admitted, 431, `request headers exceed ${limitBytes} bytes`, 'headers');
      return true;
    }
    if (match.route.public) {
      this.afterAuth(admitted);
      return true;
    }
    const header = req.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ') || this.deps.verifier === undefined) {
      this.refuse(admitted, 401, 'missing bearer token (Authorization: Bearer <jwt>)', 'auth', {
        'www-authenticate': 'Bearer',
      });
      return true;
    }
    const raw = header.slice('Bearer '.length).trim();
    const cached = this.deps.verifier.cached(raw, this.deps.epochMs());
    if (cached !== undefined) {
      admitted.token = cached;
      this.afterAuth(admitted);
    } else {
      this.deps.verifier.verify(raw, this.deps.epochMs()).then(
        (result) => this.afterVerify(admitted, result),
        (error: unknown) => this.afterVerify(admitted, { ok: false, reason: (error as Error).message }),
      );
    }
    return true;
  }

  private afterVerify(admitted: Admitted, result: TokenResult): void {
    if (!result.ok) {
      this.refuse(admitted, 401, `invalid bearer token: ${result.reason}`, 'auth', {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
      return;
    }
    admitted.token = result.token;
    this.afterAuth(admitted);
  }

  /** Scopes, rate limit, internal token. */
  private afterAuth(admitted: Admitted): void {
    const { token, match, req } = admitted;
    if (token !== undefined) {
      for (const scope of match.route.scopes) {
        if (!token.scopes.has(scope)) {
          this.refuse(admitted, 403, `token lacks scope ${scope}`, 'forbidden');
          return;
        }
      }
    }
    const { limiter, minter, clock, epochMs } = this.deps;
    if (limiter !== undefined) {
      const decision = limiter.take(token?.subject ?? req.socket.remoteAddress ?? '-', clock.nowMs());
      if (!decision.allowed) {
        this.refuse(admitted, 429, 'rate limit exceeded', 'rate', {
          'retry-after': String(decision.retryAfterSeconds),
        });
        return;
      }
    }
    if (token === undefined) {
      this.forward(admitted, undefined);
      return;
    }
    if (minter === undefined) {
      this.refuse(admitted, 500, 'the gateway has no key to sign internal tokens', 'config');
      return;
    }
    const service = match.route.service;
    const authorization = minter.cached(token.subject, service, token.internalScope, epochMs());
    if (authorization !== undefined) {
      this.forward(admitted, authorization);
      return;
    }
    minter.authorization(token.subject, service, token.internalScope, epochMs()).then(
      (value) => this.forward(admitted, value),
      (error: unknown) => {
        this.deps.logger.error({ err: (error as Error).message }, 'cannot sign an internal token');
        this.refuse(admitted, 500, 'cannot sign an internal token', 'config');
      },
    );
  }

  private forward(admitted: Admitted, authorization: string | undefined): void {
    const { req, res, match, requestId } = admitted;
    const { settings } = this.deps;
    const route = match.route;
    const pool = this.deps.pools.pool(route.service);
    const routeLabel = pool === undefined ? 'unknown' : route.prefix;
    if (pool === undefined) {
      this.answerProblem(
        admitted,
        503,
        `no instance of service "${route.service}" is available`,
        routeLabel,
        '-',
        {
          service: route.service,
        },
      );
      return;
    }
    const body = this.openBody(admitted);
    if (body === 'refused') return;
    const clientAddress = req.socket.remoteAddress ?? '';
    const deadlineMs = route.timeoutMs ?? settings.routeTimeoutMs;
    const key = extractHashKey(route.hashKey, {
      header: (name) => {
        const value = req.headers[name];
        return Array.isArray(value) ? value[0] : value;
      },
      query: match.query,
      upstreamPath: match.upstreamPath,
      clientAddress,
    });
    const exchange = new Exchange(
      this.exchangeDeps,
      {
        context: admitted,
        pool,
        routeLabel,
        keyHash: hashKey(key),
        method: req.method!,
        path: match.upstreamPath + match.query,
        headers: withTrace(
          admitted,
          upstreamRequestHeaders(req.rawHeaders, {
            requestId,
            clientAddress,
            protocol: 'encrypted' in req.socket ? 'https' : 'http',
            host: req.headers.host,
            subject: admitted.token?.subject,
            subjectHeader: settings.subjectHeader,
            authorization,
          }),
        ),
        body,
        requestId,
        deadlineMs,
        perTryTimeoutMs: Math.min(route.perTryTimeoutMs ?? settings.perTryTimeoutMs, deadlineMs),
        maxAttempts: route.maxAttempts ?? settings.maxAttempts,
        uploadAllowanceMs: body === undefined ? 0 : settings.clientRequestTimeoutMs,
      },
      res,
    );
    exchange.start();
  }

  private done(admitted: Admitted, outcome: ExchangeOutcome): void {
    const { metrics } = this.deps;
    const routeLabel = admitted.match.route.prefix;
    metrics.observeLatency(routeLabel, (performance.now() - admitted.startedMs) / 1000);
    if (outcome.failure === undefined || outcome.failure === 'client-gone') {
      metrics.countRequest(routeLabel, outcome.status, outcome.instance);
      return;
    }
    if (outcome.failure === 'body-too-large') {
      this.refuseBody(admitted);
      return;
    }
    this.deps.logger.warn(
      { requestId: admitted.requestId, status: outcome.status, detail: outcome.detail },
      'proxy failure',
    );
    this.answerProblem(
      admitted,
      outcome.status,
      outcome.detail ?? 'upstream failure',
      routeLabel,
      outcome.instance,
      {
        service: admitted.match.route.service,
      },
    );
  }

  /** The request body as a size-limited stream, none, or 'refused' (declared too large: 413 sent). */
  private openBody(admitted: Admitted): LimitedBody | undefined | 'refused' {
    const { req } = admitted;
    const length = req.headers['content-length'];
    if (length === undefined && req.headers['transfer-encoding'] === undefined) return undefined;
    if (length === '0') return undefined;
    const limitBytes = this.deps.settings.bodyLimitBytes;
    if (Number(length) > limitBytes) {
      this.refuseBody(admitted);
      return 'refused';
    }
    return limitBody(req, limitBytes);
  }

  private refuseBody(admitted: Admitted): void {
    const limitBytes = this.deps.settings.bodyLimitBytes;
    // The rest of the upload is not read: close the connection rather than drain it.
    this.refuse(admitted, 413, `request body exceeds ${limitBytes} bytes`, 'body', { connection: 'close' });
  }

  private refuse(
    admitted: Admitted,
    status: number,
    detail: string,
    reason: string,
    headers: Record<string, string> = {},
  ): void {
    this.deps.metrics.rejected.inc({ reason });
    this.answerProblem(admitted, status, detail, 'edge', '-', {}, headers);
  }

  private answerProblem(
    admitted: Admitted,
    status: number,
    detail: string,
    routeLabel: string,
    instance: string,
    extensions: Record<string, unknown>,
    headers: Record<string, string> = {},
  ): void {
    this.deps.metrics.countRequest(routeLabel, status, instance);
    const { res } = admitted;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const body = problem(status, detail, extensions);
    body.requestId = admitted.requestId;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/problem+json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }
}

function withTrace(admitted: Admitted, headers: string[]): string[] {
  return admitted.traceHeaders === undefined ? headers : withTraceHeaders(headers, admitted.traceHeaders);
}
