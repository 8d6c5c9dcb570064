import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  LEADERSHIP,
  OrchestratorLifecycle,
  SingleInstanceLeadership,
  CoordinatorLeadership,
  type LeadershipPort,
} from '@concord/saga';

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
    if (this.leadership instanceof SingleInstanceLeadership) await this.leadership.campaign();
    // Through the coordinator: campaign in the background; the lifecycle follows leadership changes.
    if (this.leadership instanceof CoordinatorLeadership) this.leadership.start();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.leadership instanceof CoordinatorLeadership) await this.leadership.stop();
    await this.lifecycle.stop();
  }
}
