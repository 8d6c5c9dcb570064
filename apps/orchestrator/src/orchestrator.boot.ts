import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  LEADERSHIP,
  OrchestratorLifecycle,
  SingleInstanceLeadership,
  type LeadershipPort,
} from '@concord/saga';

export const ORCHESTRATOR_CONFIG = Symbol('ORCHESTRATOR_CONFIG');

/** Starts the lifecycle, then campaigns (single instance: leads at once, with a fresh fencing token). */
@Injectable()
export class OrchestratorBoot implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly lifecycle: OrchestratorLifecycle,
    @Inject(LEADERSHIP) private readonly leadership: LeadershipPort,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.lifecycle.start();
    if (this.leadership instanceof SingleInstanceLeadership) await this.leadership.campaign();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.lifecycle.stop();
  }
}
