import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ProblemException } from '../http/problem.js';
import { type AuthenticatedRequest, OPS_ROUTE, PUBLIC_ROUTE, REQUIRED_SCOPES } from './auth.decorators.js';
import {
  InternalTokenVerifier,
  InvalidCredentialError,
  OperatorToken,
  type Principal,
  SCOPE_ADMIN,
} from './internal-token.js';

export const INTERNAL_AUTH_OPTIONS = Symbol('INTERNAL_AUTH_OPTIONS');

export interface InternalAuthOptions {
  readonly verifier: InternalTokenVerifier;
  readonly operatorToken: OperatorToken | undefined;
  /** The HTTP listener is bound to a loopback address (HOST), so only this host can reach it. */
  readonly listenerIsLoopback: boolean;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);
const LOOPBACK_PEER = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Authenticates a request from its `Authorization: Bearer` header: an internal token (see
 * {@link InternalTokenVerifier}) or the operator token. Shared by the guard and the /docs hook.
 */
@Injectable()
export class InternalAuthenticator {
  constructor(@Inject(INTERNAL_AUTH_OPTIONS) private readonly options: InternalAuthOptions) {}

  async authenticate(request: FastifyRequest): Promise<Principal> {
    const header = request.headers.authorization;
    if (typeof header !== 'string' || header.length === 0) {
      throw new ProblemException(401, 'missing credential (Authorization: Bearer <token>)');
    }
    const match = /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/.exec(header);
    if (match === null) throw new ProblemException(401, 'malformed Authorization header');
    const token = match[1] ?? '';
    if (this.options.operatorToken?.matches(token) === true) return OperatorToken.principal();
    try {
      return await this.options.verifier.verify(token);
    } catch (error) {
      if (error instanceof InvalidCredentialError) throw new ProblemException(401, error.message);
      throw error;
    }
  }

  /** /metrics and /docs without a credential: loopback listener, loopback peer, and not relayed by a proxy. */
  opsOpen(request: FastifyRequest): boolean {
    if (!this.options.listenerIsLoopback) return false;
    const peer = request.socket.remoteAddress ?? '';
    const relayed =
      request.headers['x-forwarded-for'] !== undefined ||
      request.headers['forwarded'] !== undefined ||
      request.headers['via'] !== undefined;
    return LOOPBACK_PEER.test(peer) && !relayed;
  }

  /** For /metrics and /docs: open as above, else an `admin` credential. */
  async authorizeOps(request: FastifyRequest): Promise<void> {
    if (this.opsOpen(request)) return;
    const principal = await this.authenticate(request);
    if (!principal.scopes.has(SCOPE_ADMIN))
      throw new ProblemException(403, `scope "${SCOPE_ADMIN}" required`);
  }
}

/**
 * The global guard of a service: every HTTP route needs a credential unless marked {@link Public}; scopes from
 * {@link RequireScopes}; {@link OpsRoute}s as {@link InternalAuthenticator.authorizeOps}. NATS handlers are not
 * its business (NATS permissions decide who may publish to them).
 */
@Injectable()
export class InternalAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: InternalAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets) === true) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (this.reflector.getAllAndOverride<boolean>(OPS_ROUTE, targets) === true) {
      await this.authenticator.authorizeOps(request);
      return true;
    }
    const principal = await this.authenticator.authenticate(request);
    const required = this.reflector.getAllAndOverride<string[]>(REQUIRED_SCOPES, targets) ?? [];
    const missing = required.filter((scope) => !principal.scopes.has(scope));
    if (missing.length > 0) throw new ProblemException(403, `scope "${missing.join(' ')}" required`);
    request.principal = principal;
    return true;
  }
}
