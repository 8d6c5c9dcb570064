import { APP_CONFIG, ProblemException, ZodPipe } from '@concord/platform';
import { Controller, Get, Header, Inject, Param, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { ConsoleConfig } from './config.js';
import { ConsoleTokenGuard } from './console-token.guard.js';
import { LiveFeed } from './live/live-feed.js';
import { SseStreams } from './live/sse-streams.js';
import { ConsoleAssets } from './page/assets.js';
import { paxosRun, paxosRunQuery, type PaxosRunQuery } from './paxos/paxos-run.query.js';
import { SingletonHolderSource } from './system/singletons.js';

/** No inline script or style, nothing from elsewhere: the page only talks to the origin that served it. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const HEARTBEAT_MS = 1_000;

/**
 * The console: one page (open: it holds no data) and two data endpoints behind the admin token, a snapshot
 * and a Server-Sent Events stream pushed on every poll (at least once a second). The system is polled only while a
 * stream is open, or once for a snapshot when the last picture is older than one poll interval.
 */
@Controller('console')
export class ConsoleHttpController {
  constructor(
    private readonly feed: LiveFeed,
    private readonly streams: SseStreams,
    private readonly assets: ConsoleAssets,
    private readonly singletons: SingletonHolderSource,
    @Inject(APP_CONFIG) private readonly config: ConsoleConfig,
  ) {}

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', CSP)
  @Header('cache-control', 'no-store')
  page(): string {
    return this.assets.indexHtml;
  }

  @Get('assets/:file')
  asset(@Param('file') name: string, @Res({ passthrough: true }) reply: FastifyReply): string {
    const file = this.assets.file(name);
    if (file === undefined) throw new ProblemException(404, `no asset ${name}`);
    void reply.header('content-type', file.type).header('cache-control', 'no-cache');
    return file.body;
  }

  @Get('api/snapshot')
  @UseGuards(ConsoleTokenGuard)
  async snapshot() {
    return { ...(await this.feed.fresh()), jaegerUrl: this.config.JAEGER_URL ?? null };
  }

  /** A seeded Paxos run from libs/paxos's simulator, as a timeline (see paxos/paxos-run.query.ts). */
  @Get('api/paxos')
  @UseGuards(ConsoleTokenGuard)
  paxos(@Query(new ZodPipe(paxosRunQuery)) query: PaxosRunQuery) {
    return paxosRun(query);
  }

  /** Who holds each singleton job lock (`{service}-…`), with its fencing token, read from the coordinator. */
  @Get('api/singletons')
  @UseGuards(ConsoleTokenGuard)
  singletonHolders() {
    return this.singletons.holders();
  }

  @Get('api/events')
  @UseGuards(ConsoleTokenGuard)
  events(@Res() reply: FastifyReply): void {
    const response = reply.raw;
    const unsubscribe = this.feed.subscribe((message) => {
      if (!this.streams.send(response, 'update', message)) unsubscribe?.();
    });
    if (unsubscribe === undefined) throw new ProblemException(503, 'too many console pages are open');
    reply.hijack();
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    this.streams.add(response);
    this.streams.send(response, 'hello', {
      ...this.feed.current(),
      jaegerUrl: this.config.JAEGER_URL ?? null,
    });
    // A comment line every second keeps proxies from timing the stream out and tells the page it is live.
    const heartbeat = setInterval(() => response.write(`: ${Date.now()}\n\n`), HEARTBEAT_MS);
    heartbeat.unref();
    response.once('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  }
}
