import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ProblemException } from '@concord/platform';
import type { FastifyRequest } from 'fastify';
import { type Access, authorize, type Principal, TokenDirectory } from './access.js';
import { TOKEN_DIRECTORY } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth guard: whom the bearer token speaks for. */
    coordinatorPrincipal?: Principal;
  }
}

type Loose = Record<string, unknown> | undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The keys a txn body reads and writes; malformed parts are skipped (the body pipe answers 400 for them). */
function txnAccess(body: unknown): Access[] {
  const reads: string[] = [];
  const writes: string[] = [];
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  for (const c of Array.isArray(b.compare) ? (b.compare as Loose[]) : []) {
    const key = str(c?.key);
    if (key !== undefined) reads.push(key);
  }
  for (const branch of [b.success, b.failure]) {
    for (const op of Array.isArray(branch) ? (branch as Loose[]) : []) {
      const get = str((op?.get as Loose)?.key);
      const put = str((op?.put as Loose)?.key);
      const del = str((op?.delete as Loose)?.key);
      if (get !== undefined) reads.push(get);
      if (put !== undefined) writes.push(put);
      if (del !== undefined) writes.push(del);
    }
  }
  return [
    ...reads.map((key) => ({ kind: 'read', key, prefix: false }) as const),
    ...(writes.length > 0 ? [{ kind: 'write', keys: writes } as const] : []),
  ];
}

/** What a request to one of the coordinator's /v1 routes does (by route pattern, method and parameters). */
export function accessOf(
  method: string,
  route: string,
  params: Record<string, string | undefined>,
  query: Record<string, unknown>,
  body: unknown,
): Access[] {
  const write = method !== 'GET' && method !== 'HEAD';
  switch (route) {
    case '/v1/kv/*': {
      const key = params['*'] ?? '';
      return [write ? { kind: 'write', keys: [key] } : { kind: 'read', key, prefix: false }];
    }
    case '/v1/kv':
      return [{ kind: 'read', key: str(query.prefix) ?? '', prefix: true }];
    case '/v1/txn':
      return txnAccess(body);
    case '/v1/watch': {
      const key = str(query.key);
      return [
        key !== undefined
          ? { kind: 'watch', key, prefix: false }
          : { kind: 'watch', key: str(query.prefix) ?? '', prefix: true },
      ];
    }
    case '/v1/services/:service':
      return [{ kind: 'read', key: `services/${params.service ?? ''}/`, prefix: true }];
    case '/v1/services/:service/:instance':
      return [{ kind: 'write', keys: [`services/${params.service ?? ''}/${params.instance ?? ''}`] }];
    case '/v1/leases':
    case '/v1/leases/:id':
    case '/v1/leases/:id/keepalive':
      return [write ? { kind: 'lease' } : { kind: 'info' }];
    case '/v1/locks/:name':
    case '/v1/locks/:name/*':
    case '/v1/elections/:name/campaign':
    case '/v1/elections/:name/resign':
      return [{ kind: 'sync', name: params.name ?? '' }];
    case '/v1/elections/:name':
    case '/v1/cluster':
      return [write ? { kind: 'clusterWrite' } : { kind: 'info' }];
    default:
      // Any other /v1 route (cluster membership changes, anything added later): admin only until mapped here.
      return [{ kind: 'clusterWrite' }];
  }
}

/**
 * Every /v1 route needs a known bearer token (401 otherwise), and the token's role must allow what the
 * request does (403 otherwise; see access.ts).
 */
@Injectable()
export class ClientAuthGuard implements CanActivate {
  constructor(@Inject(TOKEN_DIRECTORY) private readonly tokens: TokenDirectory) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
      throw new ProblemException(401, 'missing bearer token (Authorization: Bearer <token>)');
    }
    const principal = this.tokens.resolve(header);
    if (principal === undefined) throw new ProblemException(401, 'invalid bearer token');
    const accesses = accessOf(
      request.method,
      request.routeOptions.url ?? '',
      (request.params ?? {}) as Record<string, string | undefined>,
      (request.query ?? {}) as Record<string, unknown>,
      request.body,
    );
    for (const access of accesses) {
      const refusal = authorize(principal, access);
      if (refusal !== null) throw new ProblemException(403, refusal);
    }
    request.coordinatorPrincipal = principal;
    return true;
  }
}
