import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Subscription } from '@nats-io/transport-node';
import {
  type DecisionQuery,
  isLeaderRetry,
  type LeaderRetry,
  ORCHESTRATOR_LEADER_SUBJECTS as LEADER_SUBJECTS,
  type ReplyOf,
  type StartTransaction,
} from '@concord/contracts';
import { NatsConnectionHolder, tracedNatsRequest, tracingOn, withNatsConsumerSpan } from '@concord/platform';
import { LEADERSHIP, type LeadershipPort } from '@concord/saga';
import { SagasService } from './sagas.service.js';

const RELAY_TIMEOUT_MS = 5_000;

/**
 * Any orchestrator instance takes any request. `orchestrator.start` and decision queries arrive in the queue
 * group at whichever instance NATS picks; a follower relays them to the leader, which alone subscribes to the
 * leader subjects while it leads (orders sends its starts there directly). With no leader (an election in
 * progress) the request fails and its sender retries, as it would after a lost message. A leader that fails to
 * handle a message answers {@link LeaderRetry}; the relay turns that into a failure of its own, so the sender
 * retries rather than taking it for a refusal.
 */
@Injectable()
export class LeaderRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('LeaderRelay');
  private subscriptions: Subscription[] = [];
  private unsubscribeLeadership: (() => void) | undefined;

  constructor(
    @Inject(LEADERSHIP) private readonly leadership: LeadershipPort,
    private readonly nats: NatsConnectionHolder,
    private readonly sagas: SagasService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.unsubscribeLeadership = this.leadership.onChange((change) => {
      void (change.leader ? this.subscribe() : this.unsubscribe());
    });
    if (this.leadership.isLeader()) await this.subscribe();
  }

  async onApplicationShutdown(): Promise<void> {
    this.unsubscribeLeadership?.();
    this.unsubscribe();
  }

  async start(message: StartTransaction): Promise<ReplyOf<'orchestrator.start'>> {
    if (this.leadership.isLeader()) return this.sagas.startFromMessage(message);
    return this.relay(LEADER_SUBJECTS.start, message);
  }

  async decision(query: DecisionQuery): Promise<ReplyOf<'orchestrator.2pc.decision'>> {
    if (this.leadership.isLeader()) return this.sagas.decision(query);
    return this.relay(LEADER_SUBJECTS.decision, query);
  }

  private async relay<T>(subject: string, payload: unknown): Promise<T> {
    const connection = await this.nats.get();
    const answer = tracingOn
      ? await tracedNatsRequest(connection, subject, JSON.stringify(payload), RELAY_TIMEOUT_MS)
      : await connection.request(subject, JSON.stringify(payload), { timeout: RELAY_TIMEOUT_MS });
    const reply = answer.json<T | LeaderRetry>();
    if (isLeaderRetry(reply)) throw new Error(`${subject}: ${reply.reason}`);
    return reply;
  }

  private async subscribe(): Promise<void> {
    if (this.subscriptions.length > 0) return;
    const connection = await this.nats.get();
    // Any payload is survivable: a message that is not JSON gets an error reply (or, with no reply subject, a
    // warning) and the subscription keeps reading; nothing thrown here reaches the client's reader loop.
    const serve = <P>(subject: string, handle: (payload: P) => Promise<unknown>) =>
      connection.subscribe(subject, {
        callback: (error, message) => {
          if (error !== null) return;
          const answer = (reply: unknown): void => {
            if (message.reply === undefined || message.reply === '') {
              this.logger.warn(`${subject}: a message with no reply subject was dropped`);
              return;
            }
            message.respond(JSON.stringify(reply));
          };
          let payload: P;
          try {
            payload = message.json<P>();
          } catch {
            answer({ ok: false, reason: 'malformed message: not JSON' });
            return;
          }
          const handled = tracingOn ? withNatsConsumerSpan(message, () => handle(payload)) : handle(payload);
          handled.then(answer, (failure: unknown) => {
            this.logger.warn(`${subject}: ${(failure as Error).message}`);
            const retry: LeaderRetry = {
              ok: false,
              retry: true,
              reason: 'the orchestrator could not handle this message; send it again',
            };
            answer(retry);
          });
        },
      });
    this.subscriptions = [
      serve<StartTransaction>(LEADER_SUBJECTS.start, (m) => this.sagas.startFromMessage(m)),
      serve<DecisionQuery>(LEADER_SUBJECTS.decision, (q) => this.sagas.decision(q)),
    ];
    this.logger.log('leading: serving the leader subjects');
  }

  private unsubscribe(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    this.subscriptions = [];
  }
}
