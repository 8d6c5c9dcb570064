import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/auth.decorators.js';
import { ReadinessRegistry } from './readiness.js';

@Public()
@Controller('health')
export class HealthController {
  constructor(private readonly readiness: ReadinessRegistry) {}

  /** Liveness: the process answers. Never checks dependencies (a restart would not fix them). */
  @Get()
  @HttpCode(200)
  alive(): { status: 'alive' } {
    return { status: 'alive' };
  }

  /** Readiness: every registered dependency answered within its timeout; 503 otherwise. */
  @Get('ready')
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<unknown> {
    const report = await this.readiness.report();
    void reply.status(report.status === 'ready' ? 200 : 503);
    return report;
  }
}
