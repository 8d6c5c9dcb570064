import type { Readable } from 'node:stream';
import { hashKey } from '@concord/hashring';
import { problem, toProblem } from '@concord/platform';
import { codeOf } from '@concord/resilience';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayService } from '../gateway.service.js';
import { extractHashKey, type RouteMatch } from '../routing/routes.js';
import { clientResponseHeaders, headerBytes, upstreamRequestHeaders } from './headers.js';
import { type LimitedBody, limitBody } from './request-body.js';
import { isTimeout, NoInstanceError, UpstreamResponseError } from './upstream-errors.js';
import { type Answer, UpstreamExchange } from './upstream-exchange.js';

const PROXY_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
/** Responses up to this size with a Content-Length are sent in one write instead of streamed. */
const SMALL_BODY_BYTES = 64 * 1024;

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

/** What the edge decided about a request it let through. */
interface Admitted {
  readonly match: RouteMatch;
  /** Verified token subject (authenticated routes only). */
  readonly subject: string | undefined;
}

/** The request path: edge checks, then {@link UpstreamExchange}, then the answer or a problem body. */
export class ProxyHandler {
  constructor(private readonly gateway: GatewayService) {}

  async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const startedMs = performance.now();
    const admitted = this.admit(request, reply);
    if (!admitted) return;
    const body = this.openBody(request, reply);
    if (body === 'refused') return;
    const { gateway } = this;
    const { config } = gateway;
    const { match, subject } = admitted;
    const route = match.route;
    const service = route.service;
    const routeLabel = gateway.pools.size(service) > 0 ? route.prefix : 'unknown';
    const clientGone = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) clientGone.abort(new Error('client closed the connection'));
    });
    const deadlineMs = route.timeoutMs ?? config.ROUTE_TIMEOUT_MS;
    const exchange = new UpstreamExchange(gateway, {
      service,
      routeLabel,
      keyHash: hashKey(
        extractHashKey(route.hashKey, {
          header: (name) => {
            const value = request.headers[name];
            return Array.isArray(value) ? value[0] : value;
          },
          query: match.query,
          upstreamPath: match.upstreamPath,
          clientAddress: request.ip,
        }),
      ),
      method: request.method,
      path: match.upstreamPath + match.query,
      headers: upstreamRequestHeaders(request.headers, {
        requestId: request.id,
        clientAddress: request.ip,
        protocol: request.protocol,
        host: request.headers.host,
        subject,
        subjectHeader: gateway.subjectHeader,
        upstreamAuthorization: config.API_TOKEN === undefined ? undefined : `Bearer ${config.API_TOKEN}`,
      }),
      body,
      deadlineMs,
      perTryTimeoutMs: Math.min(route.perTryTimeoutMs ?? config.PER_TRY_TIMEOUT_MS, deadlineMs),
      maxAttempts: route.maxAttempts ?? config.MAX_ATTEMPTS,
      uploadAllowanceMs: body === undefined ? 0 : config.CLIENT_REQUEST_TIMEOUT_MS,
      clientGone: clientGone.signal,
    });
    let answer: Answer | undefined;
    let failure: unknown;
    try {
      answer = await exchange.run();
    } catch (error) {
      failure = error;
    }
    gateway.metrics.latency.observe({ route: routeLabel }, (performance.now() - startedMs) / 1000);
    if (answer !== undefined) {
      this.forward(reply, answer, routeLabel);
    } else if (failure instanceof UpstreamResponseError) {
      this.forward(reply, { response: failure.response, instance: failure.instance }, routeLabel);
    } else if (body?.tooLarge === true) {
      this.refuseBody(request, reply);
    } else if (clientGone.signal.aborted) {
      const instance = exchange.lastInstance?.id ?? '-';
      gateway.metrics.requests.inc({ route: routeLabel, status: '499', instance });
    } else {
      this.answerFailure(request, reply, failure, exchange, routeLabel, service);
    }
  }

  /** Header size, route, token, rate limit: a refusal is answered here and undefined returned. */
  private admit(request: FastifyRequest, reply: FastifyReply): Admitted | undefined {
    const { gateway } = this;
    const limitBytes = gateway.config.HEADER_LIMIT_BYTES;
    if (headerBytes(request.raw.rawHeaders) > limitBytes) {
      this.refuse(request, reply, 431, `request headers exceed ${limitBytes} bytes`, 'headers');
      return undefined;
    }
    const match = gateway.routes.match(request.url);
    if (!match) {
      this.refuse(request, reply, 404, `no route for ${request.url.split('?')[0] ?? ''}`, 'route');
      return undefined;
    }
    let subject: string | undefined;
    if (!match.route.public) {
      const header = request.headers.authorization;
      if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
        this.refuse(request, reply, 401, 'missing bearer token (Authorization: Bearer <jwt>)', 'auth', {
          'www-authenticate': 'Bearer',
        });
        return undefined;
      }
      const verified = gateway.jwt.verify(header.slice('Bearer '.length).trim(), Date.now());
      if (!verified.ok) {
        this.refuse(request, reply, 401, `invalid bearer token: ${verified.reason}`, 'auth', {
          'www-authenticate': 'Bearer error="invalid_token"',
        });
        return undefined;
      }
      const missing = match.route.scopes.filter((scope) => !verified.token.scopes.has(scope));
      if (missing.length > 0) {
        this.refuse(request, reply, 403, `token lacks scope ${missing.join(' ')}`, 'forbidden');
        return undefined;
      }
      subject = verified.token.subject;
    }
    if (gateway.limiter) {
      const decision = gateway.limiter.take(subject ?? request.ip, Date.now());
      if (!decision.allowed) {
        this.refuse(request, reply, 429, 'rate limit exceeded', 'rate', {
          'retry-after': String(decision.retryAfterSeconds),
        });
        return undefined;
      }
    }
    return { match, subject };
  }

  /** The request body as a size-limited stream, none, or 'refused' (declared too large: 413 sent). */
  private openBody(request: FastifyRequest, reply: FastifyReply): LimitedBody | undefined | 'refused' {
    const payload = request.body as Readable | null | undefined;
    if (payload === undefined || payload === null || typeof payload.pipe !== 'function') return undefined;
    const limitBytes = this.gateway.config.BODY_LIMIT_BYTES;
    if (Number(request.headers['content-length']) > limitBytes) {
      this.refuseBody(request, reply);
      return 'refused';
    }
    return limitBody(payload, limitBytes);
  }

  private answerFailure(
    request: FastifyRequest,
    reply: FastifyReply,
    failure: unknown,
    exchange: UpstreamExchange,
    routeLabel: string,
    service: string,
  ): void {
    const instance = exchange.lastInstance?.id ?? '-';
    let status: number;
    let detail: string;
    if (failure instanceof NoInstanceError) {
      status = 503;
      detail = failure.message;
    } else if (isTimeout(failure)) {
      status = 504;
      detail = `service "${service}" did not answer in time (${exchange.tried.size} instance(s) tried)`;
    } else {
      status = 502;
      detail = `service "${service}" failed: ${codeOf(failure) ?? (failure as Error | undefined)?.message ?? 'error'}`;
    }
    this.answerProblem(request, reply, status, detail, { service }, routeLabel, instance);
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

  private refuseBody(request: FastifyRequest, reply: FastifyReply): void {
    const limitBytes = this.gateway.config.BODY_LIMIT_BYTES;
    // The rest of the upload is not read: close the connection rather than drain it.
    this.refuse(request, reply, 413, `request body exceeds ${limitBytes} bytes`, 'body', {
      connection: 'close',
    });
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
