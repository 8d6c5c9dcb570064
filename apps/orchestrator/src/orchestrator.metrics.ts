import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { Metrics } from '@concord/platform';
import { LEADERSHIP, type LeadershipPort, SagaLog } from '@concord/saga';
import { Gauge } from 'prom-client';

/**
 * The orchestrator's own metrics, read at scrape time: instances by status and mode (from the log, so every
 * instance reports the same figures whether it leads or not), whether this instance leads, and its token.
 */
@Injectable()
export class OrchestratorMetrics implements OnModuleInit {
  constructor(
    private readonly metrics: Metrics,
    private readonly log: SagaLog,
    @Inject(LEADERSHIP) private readonly leadership: LeadershipPort,
  ) {}

  onModuleInit(): void {
    const log = this.log;
    const leadership = this.leadership;
    new Gauge({
      name: 'saga_instances',
      help: 'Saga and two-phase transaction instances in the log, by status.',
      labelNames: ['status'],
      registers: [this.metrics.registry],
      async collect() {
        this.reset();
        const counts = await log.countByStatus().catch(() => ({}));
        for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
      },
    });
    new Gauge({
      name: 'saga_oldest_unsettled_seconds',
      help: 'Seconds since the least recently moved unsettled saga or 2PC transaction last changed state.',
      registers: [this.metrics.registry],
      async collect() {
        this.set(await log.oldestUnsettledSeconds().catch(() => 0));
      },
    });
    new Gauge({
      name: 'orchestrator_leader',
      help: '1 while this orchestrator instance leads (drives sagas), else 0.',
      registers: [this.metrics.registry],
      collect() {
        this.set(leadership.isLeader() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'orchestrator_fencing_token',
      help: 'Fencing token of the current (or last) leadership term of this instance.',
      registers: [this.metrics.registry],
      collect() {
        this.set(leadership.fencingToken());
      },
    });
  }
}
