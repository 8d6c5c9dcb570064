import { Logger } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { LeadershipPort } from './leadership.js';
import { ReplyMux } from '../transport/reply-mux.js';
import { ensureEventStream, relayOutbox } from './outbox-relay.js';

/** Outbox rows published per pass (all in flight at once), and passes per relay tick. */
const relayBatchMax = 100;
const relayRoundsPerTickMax = 10;
import type { SagaLog } from './saga-log.js';
import type { SagaRuntime } from './saga-runtime.js';

/**
 * Lifecycle of the orchestrator's runtime: on becoming leader resume every unfinished instance and relay the
 * outbox; on losing leadership stop driving. Timers only here; the runtime and the deciders have none.
 */
export class OrchestratorLifecycle {
  private readonly logger = new Logger('Orchestrator');
  private relayTimer: NodeJS.Timeout | undefined;
  private relaying: Promise<unknown> | undefined;
  private streamReady = false;
  private unsubscribe: (() => void) | undefined;
  /** One reply subscription for every JetStream acknowledgement the relay awaits. */
  private readonly relayMux = new ReplyMux();

  constructor(
    private readonly runtime: SagaRuntime,
    private readonly leadership: LeadershipPort,
    private readonly log: SagaLog,
    private readonly nats: () => Promise<NatsConnection>,
    private readonly relayIntervalMs: number,
    /** JetStream replicas of the lifecycle stream (1 on a single server, 3 on a 3-node cluster). */
    private readonly streamReplicas = 1,
  ) {}

  start(): void {
    this.unsubscribe = this.leadership.onChange((change) => {
      if (change.leader) {
        this.logger.log(`leading with fencing token ${change.fencingToken}`);
        this.runtime.resumeAll().then(
          (n) => this.logger.log(`resumed ${n} unfinished instance(s)`),
          (error: unknown) => this.logger.error(`resume failed: ${(error as Error).message}`),
        );
      } else {
        this.logger.warn('leadership lost: stopping every driver');
        void this.runtime.stopAll();
      }
    });
    this.relayTimer = setInterval(() => this.relayTick(), this.relayIntervalMs);
    this.relayTimer.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    clearInterval(this.relayTimer);
    await this.runtime.stopAll();
    await this.relaying;
  }

  private relayTick(): void {
    if (this.relaying !== undefined || !this.leadership.isLeader()) return;
    this.relaying = (async () => {
      const nc = await this.nats();
      if (!this.streamReady) {
        await ensureEventStream(nc, this.streamReplicas);
        this.streamReady = true;
      }
      // A full batch means more are waiting: go again now rather than one interval later (bounded per tick).
      for (let round = 0; round < relayRoundsPerTickMax; round += 1) {
        if ((await relayOutbox(this.log, nc, relayBatchMax, this.relayMux)) < relayBatchMax) break;
      }
    })()
      .catch((error: unknown) => this.logger.warn(`outbox relay: ${(error as Error).message}`))
      .finally(() => {
        this.relaying = undefined;
      });
  }
}
