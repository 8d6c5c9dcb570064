import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { hashKey } from '@concord/hashring';
import { problem, toProblem } from '@concord/platform';
import { codeOf, DeadlineExceededError, retry, retryableFor, TryTimeoutError } from '@concord/resilience';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { GatewayService } from '../gateway.service.js';
import { extractHashKey } from '../routing/routes.js';
import { breakerKey } from '../upstreams/service-pools.js';
import type { UpstreamInstance } from '../upstreams/static-upstreams.js';
import { clientResponseHeaders, headerBytes, upstreamRequestHeaders } from './headers.js';

const PROXY_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
/** Responses up to this size with a Content-Length are sent in one write instead of streamed. */
const SMALL_BODY_BYTES = 64 * 1024;

/** No instance of the service may take the request (none registered, all open, ejected or tried). */
export class NoInstanceError extends Error {
  readonly code = 'ENOINSTANCE';
  constructor(readonly service: string) {
    super(`no instance of service "${service}" is available`);
  }
}

/** An upstream answered 5xx: a failure for its breaker, and the answer itself if no retry replaces it. */
export class UpstreamResponseError extends Error {
  readonly status: number;
  constructor(
    readonly response: Dispatcher.ResponseData,
    readonly instance: UpstreamInstance,
  ) {
    super(`upstream ${instance.id} answered ${response.statusCode}`);
    this.status = response.statusCode;
  }
}

/** Passes the request body on, counting bytes; fails the upload past the limit (413). */
class LimitedBody extends Transform {
  bytes = 0;
  tooLarge = false;
  constructor(private readonly limitBytes: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limitBytes) {
      this.tooLarge = true;
      callback(new Error(`request body exceeds ${this.limitBytes} bytes`));
      return;
    }
    callback(null, chunk);
  }
}

interface Answer {
  readonly response: Dispatcher.ResponseData;
  readonly instance: UpstreamInstance;
}

/**
 * Registers the proxy routes in their own Fastify scope: there every content type is handed on as the raw
 * stream (no parsing, no buffering), while the app's own routes (admin, health, metrics) keep the platform's
 * JSON parser. A plain Fastify handler, not a Nest controller: the proxy path skips Nest's per-request
 * pipeline (guards, interceptors, pipes), which it would not use anyway.
 */
export function registerProxyRoutes(fastify: FastifyInstance, gateway: GatewayService): void {
  const proxy = new ProxyHandler(gateway);
  void fastify.register((scope, _options, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, next) => next(null, payload));
    scope.setErrorHandler((error, request, reply) => {
      const body = toProblem(error);
      body.requestId = request.id;
      void reply.code(body.status).type('application/problem+json').send(body);
    });
    scope.route({
      method: PROXY_METHODS,
      url: '/*',
      exposeHeadRoute: false,
      handler: (request, reply) => {
        void proxy.handle(request, reply);
      },
    });
    done();
  });
}

export class ProxyHandler {
  constructor(private readonly gateway: GatewayService) {}

  async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const startedMs = performance.now();
    const gateway = this.gateway;
    const config = gateway.config;
    if (headerBytes(request.raw.rawHeaders) > config.HEADER_LIMIT_BYTES) {
      this.refuse(
        request,
        reply,
        431,
        `request headers exceed ${config.HEADER_LIMIT_BYTES} bytes`,
        'headers',
      );
      return;
    }
    const match = gateway.routes.match(request.url);
    if (!match) {
      this.refuse(request, reply, 404, `no route for ${request.url.split('?')[0] ?? ''}`, 'route');
      return;
    }
    const route = match.route;
    let subject: string | undefined;
    if (!route.public) {
      const header = request.headers.authorization;
      if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
        this.refuse(request, reply, 401, 'missing bearer token (Authorization: Bearer <jwt>)', 'auth', {
          'www-authenticate': 'Bearer',
        });
        return;
      }
      const verified = gateway.jwt.verify(header.slice(7).trim(), Date.now());
      if (!verified.ok) {
        this.refuse(request, reply, 401, `invalid bearer token: ${verified.reason}`, 'auth', {
          'www-authenticate': 'Bearer error="invalid_token"',
        });
        return;
      }
      const missing = route.scopes.filter((scope) => !verified.token.scopes.has(scope));
      if (missing.length > 0) {
        this.refuse(request, reply, 403, `token lacks scope ${missing.join(' ')}`, 'forbidden');
        return;
      }
      subject = verified.token.subject;
    }
    if (gateway.limiter) {
      const decision = gateway.limiter.take(subject ?? request.ip, Date.now());
      if (!decision.allowed) {
        this.refuse(request, reply, 429, 'rate limit exceeded', 'rate', {
          'retry-after': String(decision.retryAfterSeconds),
        });
        return;
      }
    }

    let body: LimitedBody | undefined;
    const payload = request.body as Readable | undefined;
    if (payload !== undefined && payload !== null && typeof payload.pipe === 'function') {
      const declared = Number(request.headers['content-length']);
      if (declared > config.BODY_LIMIT_BYTES) {
        this.refuse(request, reply, 413, `request body exceeds ${config.BODY_LIMIT_BYTES} bytes`, 'body', {
          connection: 'close',
        });
        return;
      }
      const limited = new LimitedBody(config.BODY_LIMIT_BYTES);
      payload.on('error', (error) => limited.destroy(error));
      limited.on('error', () => {
        // Not pipeline(): it would destroy the client's socket, and the 413 (or 5xx) could not be sent.
        payload.unpipe(limited);
        payload.resume();
      });
      payload.pipe(limited);
      body = limited;
    }

    const service = route.service;
    const routeLabel = gateway.pools.size(service) > 0 ? route.prefix : 'unknown';
    const key = extractHashKey(route.hashKey, {
      header: (name) => {
        const value = request.headers[name];
        return Array.isArray(value) ? value[0] : value;
      },
      query: match.query,
      upstreamPath: match.upstreamPath,
      clientAddress: request.ip,
    });
    const keyHash = hashKey(key);
    const headers = upstreamRequestHeaders(request.headers, {
      requestId: request.id,
      clientAddress: request.ip,
      protocol: request.protocol,
      host: request.headers.host,
      subject,
      subjectHeader: config.SUBJECT_HEADER,
      upstreamAuthorization: config.API_TOKEN === undefined ? undefined : `Bearer ${config.API_TOKEN}`,
    });
    const path = match.upstreamPath + match.query;
    const method = request.method;
    const deadlineMs = route.timeoutMs ?? config.ROUTE_TIMEOUT_MS;
    const perTryTimeoutMs = Math.min(route.perTryTimeoutMs ?? config.PER_TRY_TIMEOUT_MS, deadlineMs);
    const uploadAllowanceMs = body === undefined ? 0 : config.CLIENT_REQUEST_TIMEOUT_MS;
    const tried = new Set<string>();
    const budget = gateway.budget(service);
    const retryable = retryableFor(method);
    const clientGone = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) clientGone.abort(new Error('client closed the connection'));
    });
    let lastFailure: unknown;
    let lastInstance: UpstreamInstance | undefined;
    budget.recordRequest();

    let answer: Answer | undefined;
    let failure: unknown;
    try {
      answer = await retry(
        async ({ signal, timeoutMs }): Promise<Answer> => {
          const choice = gateway.pools.choose(service, keyHash, tried);
          if (!choice) throw new NoInstanceError(service);
          const { instance } = choice;
          if (choice.passedOver > 0) gateway.metrics.overflows.inc({ service }, choice.passedOver);
          if (choice.panic) gateway.metrics.panics.inc({ service });
          tried.add(instance.id);
          lastInstance = instance;
          const breaker = breakerKey(service, instance.id);
          const pool = gateway.clients.pool(breaker, instance);
          gateway.pools.acquire(service, instance.id);
          const tryStartedMs = performance.now();
          // With a body, the try's own timeout starts once the client has finished sending it: a large upload
          // takes the time it takes (bounded by CLIENT_REQUEST_TIMEOUT_MS), not the route's timeout. Without
          // one, the retry helper's signal is enough (no extra AbortController on the hot path).
          const upload = body === undefined ? undefined : uploadTimeout(body, signal, perTryTimeoutMs);
          const trySignal = upload?.signal ?? signal;
          try {
            const response = await gateway.breakers.fire(
              breaker,
              async () => {
                const answered = await pool.request({
                  path,
                  method,
                  headers,
                  body: body ?? null,
                  signal: trySignal,
                  headersTimeout: timeoutMs + 1_000,
                  bodyTimeout: deadlineMs,
                });
                if (answered.statusCode >= 500) throw new UpstreamResponseError(answered, instance);
                return answered;
              },
              service,
            );
            gateway.health.recordResponse(service, instance.id, false);
            gateway.metrics.upstreamLatency.observe(
              { service, instance: instance.id },
              (performance.now() - tryStartedMs) / 1000,
            );
            response.body.once('close', () => gateway.pools.release(service, instance.id));
            return { response, instance };
          } catch (error) {
            gateway.pools.release(service, instance.id);
            if (codeOf(error) !== 'EOPENBREAKER' && !clientGone.signal.aborted) {
              gateway.health.recordResponse(service, instance.id, true);
            }
            // A try cut by its timeout reports the timeout, not undici's "aborted".
            const reason: unknown = trySignal.reason;
            lastFailure = trySignal.aborted && reason instanceof Error ? reason : error;
            throw lastFailure;
          } finally {
            upload?.dispose();
          }
        },
        {
          maxAttempts: route.maxAttempts ?? config.MAX_ATTEMPTS,
          deadlineMs: deadlineMs + uploadAllowanceMs,
          perTryTimeoutMs: perTryTimeoutMs + uploadAllowanceMs,
          // The next try goes to another instance: no reason to wait before it.
          baseDelayMs: 0,
          maxDelayMs: 0,
          signal: clientGone.signal,
          shouldRetry: (error) => {
            if (error instanceof NoInstanceError || clientGone.signal.aborted) return false;
            // A body already (partly) sent upstream cannot be sent again.
            if (body !== undefined && (body.destroyed || body.readableDidRead)) return false;
            if (!retryable(error)) return false;
            const granted = budget.tryAcquireRetry();
            gateway.metrics.retryBudgetAvailable.set({ service }, budget.available());
            if (!granted) {
              gateway.metrics.retryBudgetExhausted.inc({ route: routeLabel });
              return false;
            }
            return true;
          },
          onRetry: ({ error }) => {
            gateway.metrics.retries.inc({ route: routeLabel, reason: reasonOf(error) });
            if (error instanceof UpstreamResponseError)
              void error.response.body.dump().catch(() => undefined);
          },
        },
      );
    } catch (error) {
      failure = error instanceof NoInstanceError && lastFailure !== undefined ? lastFailure : error;
    }
    const elapsedSeconds = (performance.now() - startedMs) / 1000;
    gateway.metrics.latency.observe({ route: routeLabel }, elapsedSeconds);

    if (answer !== undefined) {
      this.forward(reply, answer, routeLabel);
      return;
    }
    if (failure instanceof UpstreamResponseError) {
      this.forward(reply, { response: failure.response, instance: failure.instance }, routeLabel);
      return;
    }
    if (body?.tooLarge === true) {
      this.refuse(request, reply, 413, `request body exceeds ${config.BODY_LIMIT_BYTES} bytes`, 'body', {
        connection: 'close',
      });
      return;
    }
    if (clientGone.signal.aborted) {
      gateway.metrics.requests.inc({ route: routeLabel, status: '499', instance: lastInstance?.id ?? '-' });
      return;
    }
    const instanceLabel = lastInstance?.id ?? '-';
    if (failure instanceof NoInstanceError) {
      this.answerProblem(request, reply, 503, failure.message, { service }, routeLabel, instanceLabel);
    } else if (isTimeout(failure)) {
      this.answerProblem(
        request,
        reply,
        504,
        `service "${service}" did not answer in time (${tried.size} instance(s) tried)`,
        { service },
        routeLabel,
        instanceLabel,
      );
    } else {
      this.answerProblem(
        request,
        reply,
        502,
        `service "${service}" failed: ${codeOf(failure) ?? (failure as Error | undefined)?.message ?? 'error'}`,
        { service },
        routeLabel,
        instanceLabel,
      );
    }
  }

  private forward(reply: FastifyReply, answer: Answer, routeLabel: string): void {
    const { response, instance } = answer;
    this.gateway.metrics.requests.inc({
      route: routeLabel,
      status: String(response.statusCode),
      instance: instance.id,
    });
    void reply.code(response.statusCode).headers(clientResponseHeaders(response.headers, instance.id));
    const length = Number(response.headers['content-length']);
    if (length <= SMALL_BODY_BYTES) {
      // A small body of known length is read whole and sent with the headers in one write: on loopback the
      // syscalls, not the bytes, are the cost (measured: see docs/gateway.md). Larger or unknown ones stream.
      response.body.arrayBuffer().then(
        (bytes) => void reply.send(Buffer.from(bytes)),
        () => reply.raw.destroy(),
      );
      return;
    }
    void reply.send(response.body);
  }

  private refuse(
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    detail: string,
    reason: string,
    headers: Record<string, string> = {},
  ): void {
    this.gateway.metrics.rejected.inc({ reason });
    this.answerProblem(request, reply, status, detail, {}, 'edge', '-', headers);
  }

  private answerProblem(
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    detail: string,
    extensions: Record<string, unknown>,
    routeLabel: string,
    instance: string,
    headers: Record<string, string> = {},
  ): void {
    this.gateway.metrics.requests.inc({ route: routeLabel, status: String(status), instance });
    const body = problem(status, detail, extensions);
    body.requestId = request.id;
    void reply.code(status).headers(headers).type('application/problem+json').send(body);
  }
}

/** A signal that aborts with the outer one, or `timeoutMs` after the body has been fully received. */
function uploadTimeout(
  body: LimitedBody,
  outer: AbortSignal,
  timeoutMs: number,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(outer.reason);
  outer.addEventListener('abort', onOuterAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    timer = setTimeout(() => controller.abort(new TryTimeoutError(timeoutMs)), timeoutMs);
  };
  if (body.writableFinished) arm();
  else body.once('finish', arm);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      body.off('finish', arm);
      outer.removeEventListener('abort', onOuterAbort);
    },
  };
}

function isTimeout(error: unknown): boolean {
  if (error instanceof TryTimeoutError || error instanceof DeadlineExceededError) return true;
  const code = codeOf(error);
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT';
}

function reasonOf(error: unknown): string {
  if (error instanceof UpstreamResponseError) return String(error.status);
  if (isTimeout(error)) return 'timeout';
  return codeOf(error) ?? 'error';
}
