import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { Metrics } from '@concord/platform';
import { LEADERSHIP, type LeadershipPort, type RuntimeOptions, SagaLog } from '@concord/saga';
import { Counter, Gauge, Histogram } from 'prom-client';

/** Statuses a transaction enters to undo what it did: a saga compensates, a 2PC transaction aborts. */
const UNDOING: ReadonlySet<string> = new Set(['compensating', 'aborting']);

/**
 * The orchestrator's own metrics, read at scrape time: instances by status and mode (from the log, so every
 * instance reports the same figures whether it leads or not), whether this instance leads, and its token.
 */
@Injectable()
export class OrchestratorMetrics implements OnModuleInit {
  private readonly stepDuration: Histogram<'type' | 'step' | 'outcome'>;
  private readonly compensations: Counter<'type' | 'mode'>;

  constructor(
    private readonly metrics: Metrics,
    private readonly log: SagaLog,
    @Inject(LEADERSHIP) private readonly leadership: LeadershipPort,
  ) {
    this.stepDuration = new Histogram({
      name: 'saga_step_duration_seconds',
      help: 'Time from a step command first sent to its outcome recorded (re-sends included), by workflow, step and outcome.',
      labelNames: ['type', 'step', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [metrics.registry],
    });
    this.compensations = new Counter({
      name: 'saga_compensations_total',
      help: 'Transactions that started undoing: sagas entering compensating, 2PC transactions entering aborting.',
      labelNames: ['type', 'mode'],
      registers: [metrics.registry],
    });
  }

  /** The runtime's hooks that feed the step histogram and the compensation counter. */
  runtimeHooks(): Pick<RuntimeOptions, 'onStepDone' | 'onStatusChange'> {
    return {
      onStepDone: (type, step, outcome, seconds) =>
        this.stepDuration.observe({ type, step, outcome }, seconds),
      onStatusChange: (type, mode, _from, to) => {
        if (UNDOING.has(to)) this.compensations.inc({ type, mode });
      },
    };
  }

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
      name: 'saga_instances_by_step',
      help: 'Unfinished saga and 2PC instances by workflow, mode, status and the step they wait on.',
      labelNames: ['type', 'mode', 'status', 'step'],
      registers: [this.metrics.registry],
      async collect() {
        this.reset();
        const rows = await log.countWaitingByStep().catch(() => []);
        for (const r of rows) this.set({ type: r.type, mode: r.mode, status: r.status, step: r.step }, r.n);
      },
    });
    new Gauge({
      name: 'twopc_in_doubt_transactions',
      help: 'Unfinished 2PC transactions that have not moved for more than 10 s (participants may hold prepared transactions for them).',
      registers: [this.metrics.registry],
      async collect() {
        this.set(await log.countInDoubt(10).catch(() => 0));
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
