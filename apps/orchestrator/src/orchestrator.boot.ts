import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { LEADERSHIP, OrchestratorLifecycle, type LeadershipPort } from '@concord/saga';

/**
 * Starts the lifecycle, then campaigns: alone (no coordinator), it leads at once with a fresh fencing token;
 * with a coordinator, it campaigns in `elections/orchestrator` and leads only while its lease lives.
 */
@Injectable()
export class OrchestratorBoot implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly lifecycle: OrchestratorLifecycle,
    @Inject(LEADERSHIP) private readonly leadership: LeadershipPort,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.lifecycle.start();
    // Alone it leads before this resolves; through the coordinator it campaigns in the background, and the
    // lifecycle follows leadership changes.
    await this.leadership.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.leadership.stop();
    await this.lifecycle.stop();
  }
}
