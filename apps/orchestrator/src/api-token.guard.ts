import { timingSafeEqual } from 'node:crypto';
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { ProblemException } from '@concord/platform';
import type { FastifyRequest } from 'fastify';
import type { OrchestratorConfig } from './config.js';
import { ORCHESTRATOR_CONFIG } from './orchestrator.boot.js';

/** Writes need `Authorization: Bearer <API_TOKEN>`; compared in constant time. */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly expected: Buffer;

  constructor(@Inject(ORCHESTRATOR_CONFIG) config: OrchestratorConfig) {
    this.expected = Buffer.from(`Bearer ${config.API_TOKEN}`);
  }

  canActivate(context: ExecutionContext): boolean {
    const given = context.switchToHttp().getRequest<FastifyRequest>().headers.authorization;
    const buffer = Buffer.from(typeof given === 'string' ? given : '');
    if (buffer.length === this.expected.length && timingSafeEqual(buffer, this.expected)) return true;
    throw new ProblemException(401, 'a valid bearer token is required');
  }
}
