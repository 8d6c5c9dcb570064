import { APP_CONFIG, ProblemException } from '@concord/platform';
import { Controller, Get, Inject, type OnModuleDestroy, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Pool } from 'undici';
import type { GatewayConfig } from '../config.js';

/** Headers of the console's answer that the browser needs; nothing else crosses. */
const PASSED_BACK = [
  'content-type',
  'cache-control',
  'content-security-policy',
  'x-accel-buffering',
] as const;

/**
 * `/console` and everything under it go to the console app (CONSOLE_URL), streamed both ways so the live feed
 * (Server-Sent Events) arrives as it is written. The console checks the admin token itself; the gateway only
 * passes the Authorization header on. Off the proxy's hot path: a plain Nest route.
 */
@Controller('console')
export class ConsoleProxyController implements OnModuleDestroy {
  private readonly pool: Pool | undefined;

  constructor(@Inject(APP_CONFIG) private readonly config: GatewayConfig) {
    this.pool =
      config.CONSOLE_URL === undefined ? undefined : new Pool(config.CONSOLE_URL, { connections: 8 });
  }

  @Get()
  async page(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.forward(request, reply);
  }

  @Get('*')
  async rest(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    await this.forward(request, reply);
  }

  private async forward(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (this.pool === undefined)
      throw new ProblemException(404, 'the console is not configured (CONSOLE_URL)');
    // Path and query only: the request line's path decides nothing about where the request goes.
    const path = new URL(request.url, 'http://console.invalid').pathname;
    if (!path.startsWith('/console')) throw new ProblemException(404, 'not found');
    const query = new URL(request.url, 'http://console.invalid').search;
    const authorization = request.headers.authorization;
    let upstream;
    try {
      upstream = await this.pool.request({
        method: 'GET',
        path: `${path}${query}`,
        headers: {
          accept: request.headers.accept ?? '*/*',
          ...(authorization === undefined ? {} : { authorization }),
        },
        headersTimeout: 5_000,
        bodyTimeout: 0,
      });
    } catch {
      throw new ProblemException(502, 'the console did not answer');
    }
    const headers: Record<string, string> = {};
    for (const name of PASSED_BACK) {
      const value = upstream.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(upstream.statusCode, headers);
    raw.once('close', () => upstream.body.destroy());
    upstream.body.on('error', () => raw.destroy());
    upstream.body.pipe(raw);
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool?.destroy();
  }
}
