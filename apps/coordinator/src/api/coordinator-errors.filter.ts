import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  Inject,
  Logger,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Pool } from 'undici';
import { CoordinatorError, type Consensus, NotLeaderError, UnavailableError } from '@concord/coordination';
import { problem } from '@concord/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CoordinatorConfig } from '../config.js';
import { CONSENSUS, COORDINATOR_CONFIG } from './tokens.js';
import { KvStateMachineHolder } from './state.js';
import { errorCode, FORWARD_KEEP_ALIVE_MS, isResendable, requestLeader } from './leader-request.js';

/** Requests forwarded more than this many times are refused: leadership is moving, the client should retry. */
const FORWARD_HOPS_MAX = 2;
const HOPS_HEADER = 'x-concord-forwarded';
/** Lock and campaign requests may wait at the leader up to their waitMs (at most 300 s). */
const FORWARD_TIMEOUT_MS = 330_000;
const FORWARD_CONNECTIONS_MAX = 256;
/** On a 503: `notApplied` (safe to retry anything) or `unknown` (the write may still commit). */
export const OUTCOME_HEADER = 'x-concord-outcome';

/**
 * The leader's URL for a request: the leader's origin with only the request's path and query. A request line in
 * absolute form (`PUT http://elsewhere/v1/kv/x`) or with a `//host` path must never choose where the request
 * (with the client's bearer token) goes.
 */
export function leaderUrl(requestUrl: string, base: string): URL {
  // The common case, an origin-form path (`/v1/...`; not `//host` nor `/\host`, which URL reads as a host): one parse.
  if (requestUrl[0] === '/' && requestUrl[1] !== '/' && requestUrl[1] !== '\\')
    return new URL(requestUrl, base);
  const given = new URL(requestUrl, 'http://request.invalid');
  const target = new URL(base);
  target.pathname = given.pathname;
  target.search = given.search;
  target.hash = '';
  return target;
}

/**
 * Maps coordinator outcomes to HTTP. A {@link NotLeaderError} is not an error for the client: the request is
 * forwarded to the leader and its answer relayed ("any node takes any request"). With no leader known the
 * answer is 503 with Retry-After, never a guess.
 */
@Catch(CoordinatorError, NotLeaderError, UnavailableError)
export class CoordinatorErrorsFilter implements ExceptionFilter, OnApplicationShutdown {
  private readonly logger = new Logger('Forwarding');
  private readonly pools = new Map<string, Pool>();

  constructor(
    @Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig,
    @Inject(CONSENSUS) private readonly consensus: Consensus,
    private readonly state: KvStateMachineHolder,
  ) {}

  async catch(error: Error, host: ArgumentsHost): Promise<void> {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    if (error instanceof CoordinatorError) {
      void reply
        .status(error.status)
        .type('application/problem+json')
        .send({ ...problem(error.status, error.message, error.details), requestId: request.id });
      return;
    }
    if (error instanceof NotLeaderError) {
      const target = error.leaderId === null ? undefined : this.apiUrl(error.leaderId);
      const hops = Number(request.headers[HOPS_HEADER] ?? 0);
      if (target !== undefined && error.leaderId !== this.config.NODE_ID && hops < FORWARD_HOPS_MAX) {
        await this.forward(request, reply, target, hops + 1);
        return;
      }
    }
    const outcome = error instanceof UnavailableError ? error.outcome : 'notApplied';
    void reply
      .status(503)
      .header('retry-after', '1')
      .header(OUTCOME_HEADER, outcome)
      .type('application/problem+json')
      .send({
        ...problem(
          503,
          error instanceof NotLeaderError ? `no leader available: ${error.message}` : error.message,
        ),
        outcome,
        requestId: request.id,
      });
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: FORWARD_CONNECTIONS_MAX,
        headersTimeout: FORWARD_TIMEOUT_MS,
        bodyTimeout: FORWARD_TIMEOUT_MS,
        connectTimeout: 5_000,
        // Close idle sockets ourselves, long before the leader would (72 s): a socket the leader closes just as
        // we reuse it fails the request ("other side closed").
        keepAliveTimeout: FORWARD_KEEP_ALIVE_MS,
        keepAliveMaxTimeout: FORWARD_KEEP_ALIVE_MS,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)));
    this.pools.clear();
  }

  private apiUrl(id: string): string | undefined {
    return this.state.machine.memberApiUrls().get(id) ?? this.config.API_URLS.get(id);
  }

  private async forward(
    request: FastifyRequest,
    reply: FastifyReply,
    base: string,
    hops: number,
  ): Promise<void> {
    const url = leaderUrl(request.url, base);
    const headers: Record<string, string> = {
      [HOPS_HEADER]: String(hops),
      'x-request-id': request.id,
    };
    if (typeof request.headers.authorization === 'string')
      headers.authorization = request.headers.authorization;
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD' && request.body !== undefined;
    if (hasBody) headers['content-type'] = 'application/json';
    try {
      // One keep-alive pool per leader, no per-request AbortSignal or timer: lock and campaign requests may wait
      // long at the leader (their own waitMs bounds them); the pool's timeouts bound the rest.
      const path = url.pathname + url.search;
      const answer = await requestLeader(
        this.pool(url.origin),
        {
          method: request.method,
          path,
          headers,
          body: hasBody ? JSON.stringify(request.body) : null,
        },
        isResendable(request.method, path),
      );
      const body = await answer.body.text();
      const header = (name: string): string | undefined => {
        const v = answer.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      for (const name of ['retry-after', OUTCOME_HEADER]) {
        const value = header(name);
        if (value !== undefined) void reply.header(name, value);
      }
      void reply
        .status(answer.statusCode)
        .type(header('content-type') ?? 'application/json')
        .header('x-concord-served-by', header('x-concord-served-by') ?? 'leader')
        .send(body);
    } catch (error) {
      this.logger.warn(`forwarding to the leader at ${base} failed: ${(error as Error).message}`);
      // Refused connections never reached the leader; anything else may have been applied there.
      const code = errorCode(error);
      const outcome =
        code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' ? 'notApplied' : 'unknown';
      void reply
        .status(503)
        .header('retry-after', '1')
        .header(OUTCOME_HEADER, outcome)
        .type('application/problem+json')
        .send({ ...problem(503, 'the leader could not be reached; retry'), outcome, requestId: request.id });
    }
  }
}
