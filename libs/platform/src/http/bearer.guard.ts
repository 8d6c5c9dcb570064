import { timingSafeEqual } from 'node:crypto';
import type { CanActivate, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ProblemException } from './problem.js';

/**
 * Requires `Authorization: Bearer <token>` matching one of the configured tokens (compared in constant time).
 * 401 problem body when missing or wrong.
 */
export class BearerTokenGuard implements CanActivate {
  private readonly tokens: Buffer[];

  constructor(tokens: readonly string[]) {
    this.tokens = tokens.map((t) => Buffer.from(t));
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
      throw new ProblemException(401, 'missing bearer token (Authorization: Bearer <token>)');
    }
    const given = Buffer.from(header.slice('Bearer '.length).trim());
    if (!this.tokens.some((t) => t.length === given.length && timingSafeEqual(t, given))) {
      throw new ProblemException(401, 'invalid bearer token');
    }
    return true;
  }
}
