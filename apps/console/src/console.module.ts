import {
  type DynamicModule,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { ConsoleConfig } from './config.js';
import { ConsoleTokenGuard } from './console-token.guard.js';
import { ConsoleHttpController } from './console.http.controller.js';
import { LiveFeed } from './live/live-feed.js';
import { SseStreams } from './live/sse-streams.js';
import { ConsoleAssets } from './page/assets.js';
import { SingletonHolderSource } from './system/singletons.js';
import { SystemSources } from './system/sources.js';

/** Lets the feed poll (while a page watches) once the app is up, and ends open streams on shutdown, so SIGTERM drains at once. */
@Injectable()
export class ConsoleLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly feed: LiveFeed,
    private readonly streams: SseStreams,
  ) {}
  onModuleInit(): void {
    this.feed.start();
  }
  async onApplicationShutdown(): Promise<void> {
    this.streams.endAll();
    await this.feed.stop();
  }
}

@Module({})
export class ConsoleModule {
  static register(config: ConsoleConfig): DynamicModule {
    const sources = new SystemSources(
      {
        coordinatorUrls: config.COORDINATOR_URLS,
        coordinatorToken: config.COORDINATOR_TOKEN,
        gatewayUrl: config.GATEWAY_URL,
        gatewayAdminToken: config.GATEWAY_ADMIN_TOKEN,
        orchestratorUrls: config.ORCHESTRATOR_URLS,
        orchestratorToken: config.ORCHESTRATOR_TOKEN,
        recentTransactions: config.CONSOLE_RECENT_TRANSACTIONS,
        requestTimeoutMs: config.CONSOLE_SOURCE_TIMEOUT_MS,
      },
      (url, init) => fetch(url, init),
      () => Date.now(),
    );
    const feed = new LiveFeed(sources, {
      pollIntervalMs: config.CONSOLE_POLL_INTERVAL_MS,
      eventsKept: 200,
      subscribersMax: config.CONSOLE_VIEWERS_MAX,
    });
    return {
      module: ConsoleModule,
      controllers: [ConsoleHttpController],
      providers: [
        { provide: LiveFeed, useValue: feed },
        { provide: SseStreams, useValue: new SseStreams() },
        { provide: ConsoleAssets, useValue: ConsoleAssets.load() },
        {
          provide: SingletonHolderSource,
          useValue: new SingletonHolderSource(
            {
              coordinatorUrls: config.COORDINATOR_URLS,
              coordinatorToken: config.COORDINATOR_TOKEN,
              requestTimeoutMs: config.CONSOLE_SOURCE_TIMEOUT_MS,
            },
            (url, init) => fetch(url, init),
            () => Date.now(),
          ),
        },
        ConsoleTokenGuard,
        ConsoleLifecycle,
      ],
    };
  }
}
