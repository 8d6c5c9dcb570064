import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ProblemException } from '../http/problem.js';
import { type Principal, SCOPE_ADMIN, SCOPE_CUSTOMER } from './internal-token.js';

/**
 * Route metadata read by {@link InternalAuthGuard}. A route is authenticated unless marked otherwise: a
 * forgotten decorator fails closed.
 */
export const PUBLIC_ROUTE = 'concord:auth:public';
export const OPS_ROUTE = 'concord:auth:ops';
export const REQUIRED_SCOPES = 'concord:auth:scopes';

/** No credential needed (health and readiness only). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(PUBLIC_ROUTE, true);

/**
 * Operator endpoints (/metrics, /docs): open to a request made on this host to a loopback-bound listener and not
 * relayed by a proxy; otherwise an `admin` credential.
 */
export const OpsRoute = (): MethodDecorator & ClassDecorator => SetMetadata(OPS_ROUTE, true);

/** Every listed scope must be in the credential (403 otherwise). */
export const RequireScopes = (...scopes: string[]): MethodDecorator & ClassDecorator =>
  SetMetadata(REQUIRED_SCOPES, scopes);

/** `admin` only: products writes, receipts, deposits, listings across customers, the orchestrator's API. */
export const AdminOnly = (): MethodDecorator & ClassDecorator => RequireScopes(SCOPE_ADMIN);

/** The request's verified principal, set by the guard. */
export interface AuthenticatedRequest extends FastifyRequest {
  principal?: Principal;
}

/** `@CurrentPrincipal() principal: Principal` in a handler of an authenticated route. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => {
    const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
    if (principal === undefined) throw new ProblemException(401, 'no credential');
    return principal;
  },
);

export function isAdmin(principal: Principal): boolean {
  return principal.scopes.has(SCOPE_ADMIN);
}

/**
 * A customer resource (an order, an account, a ledger) may be touched by its own customer (subject =
 * customerId, with the `customer` scope) or by an admin; anyone else gets 403.
 */
export function assertCustomerAccess(principal: Principal, customerId: string): void {
  if (isAdmin(principal)) return;
  if (!principal.scopes.has(SCOPE_CUSTOMER)) {
    throw new ProblemException(403, `scope "${SCOPE_CUSTOMER}" or "${SCOPE_ADMIN}" required`);
  }
  if (principal.subject !== customerId) {
    throw new ProblemException(
      403,
      `subject "${principal.subject}" may not act for customer "${customerId}"`,
    );
  }
}
