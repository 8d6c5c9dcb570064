import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DecisionQuery, Decision, Reply } from '@concord/contracts';
import { retryDelayMs, retryExhausted } from '../definition/retry.js';
import type { TwoPhaseState } from '../definition/two-phase.js';
import {
  isFinished,
  type OutboundCommand,
  type Workflow,
  type WorkflowStateBase,
} from '../definition/workflow.js';
import { SpanKind, traceApi, traceContextApi, tracingOn, withSpan } from '@concord/platform';
import type { CommandSender } from '../transport/nest-nats.js';
import type { LeadershipPort } from './leadership.js';
import {
  FencedError,
  requestHash,
  StaleVersionError,
  type CreateOutcome,
  type InstanceRecord,
  type LifecycleEvent,
  type SagaLog,
  type StartedStep,
  type StepOutcome,
} from './saga-log.js';
import { type InstanceTrace, resumeInstanceTrace, startInstanceTrace, twoPhaseName } from './saga-tracing.js';

/** A SQL statement of the log in a CLIENT span (only called with tracing on). */
function sqlSpan<T>(operation: string, work: () => Promise<T>): Promise<T> {
  return withSpan(
    `saga_log ${operation}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'db.system.name': 'postgresql', 'db.operation.name': operation },
    },
    work,
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyWorkflow = Workflow<any, WorkflowStateBase> & {
  /** Two-phase workflows: a participant asked for the decision (method syntax: bivariant in the state). */
  onDecisionQuery?(state: WorkflowStateBase): WorkflowStateBase;
};

export interface RuntimeOptions {
  /** Random numbers in [0, 1) for backoff jitter (seeded in tests). */
  readonly random?: () => number;
  readonly logger?: { warn(message: string): void; log(message: string): void };
  /** Wait before re-trying a write that failed (database unreachable). */
  readonly writeRetryMs?: number;
  /** Milliseconds since the epoch (deadlines of steps); injected so tests control time. Default `Date.now`. */
  readonly clock?: () => number;
  /** At most this many resumed instances are driven at once after a start or a leadership change. Default 64. */
  readonly resumeConcurrencyMax?: number;
  /** Called once an instance reached a finished state, after that state was written (metrics, benchmarks). */
  readonly onFinished?: (id: string, status: string, reason: string | undefined) => void;
  /** Called once a step's outcome was written: its duration from first send to answer (metrics). */
  readonly onStepDone?: (type: string, step: string, status: StepOutcome['status'], seconds: number) => void;
  /** Called once a transition that changed the instance's status was written (metrics: compensations...). */
  readonly onStatusChange?: (type: string, mode: 'saga' | '2pc', from: string, to: string) => void;
}

export class UnknownWorkflowError extends Error {
  override readonly name = 'UnknownWorkflowError';
}
export class InvalidInputError extends Error {
  override readonly name = 'InvalidInputError';
}
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
}

const eventSubjectPrefix = 'saga.events';

/** The message id of a command: the same on every re-send, from any orchestrator instance. */
export function messageIdOf(sagaId: string, key: string): string {
  return `${sagaId}:${key}`;
}

function startedSteps(sagaId: string, commands: readonly OutboundCommand[]): StartedStep[] {
  return commands.map((c) => ({
    key: c.key,
    step: c.step,
    subject: c.subject,
    messageId: messageIdOf(sagaId, c.key),
  }));
}

/**
 * The one component that persists and sends. For each unfinished instance a driver loops: ask the workflow what
 * is outstanding; record each command as started; send it (same message id on every re-send) until an answer
 * or the retry policy gives up; feed the outcome to the workflow; write the new state, the step's outcome and
 * the lifecycle events in one fenced transaction; only then look at what is outstanding next.
 */
export class SagaRuntime {
  private readonly workflows = new Map<string, AnyWorkflow>();
  private readonly drivers = new Map<string, InstanceDriver>();
  private readonly random: () => number;
  private readonly clock: () => number;
  private readonly logger: { warn(message: string): void; log(message: string): void };
  private stopping = new AbortController();

  constructor(
    readonly log: SagaLog,
    readonly leadership: LeadershipPort,
    readonly send: CommandSender,
    workflows: readonly AnyWorkflow[],
    private readonly options: RuntimeOptions = {},
  ) {
    for (const workflow of workflows) this.workflows.set(`${workflow.type}/${workflow.mode}`, workflow);
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger ?? { warn: () => undefined, log: () => undefined };
  }

  workflowTypes(mode: 'saga' | '2pc'): string[] {
    return [...this.workflows.values()].filter((w) => w.mode === mode).map((w) => w.type);
  }

  /** Starts (or, for a known idempotency key, finds) an instance. Throws on unknown type or bad input. */
  async start(
    type: string,
    mode: 'saga' | '2pc',
    rawInput: unknown,
    idempotencyKey: string | null,
  ): Promise<CreateOutcome> {
    const workflow = this.workflows.get(`${type}/${mode}`);
    if (workflow === undefined) throw new UnknownWorkflowError(`no ${mode} named ${JSON.stringify(type)}`);
    let input: unknown;
    try {
      input = workflow.parseInput(rawInput);
    } catch (error) {
      throw new InvalidInputError((error as Error).message);
    }
    if (!this.leadership.isLeader()) {
      // Answer a repeat without needing leadership: reads are safe from any instance.
      const existing = idempotencyKey === null ? undefined : await this.log.findByKey(idempotencyKey);
      if (existing !== undefined) return this.compare(existing, type, mode, input);
      throw new NotLeaderError('this orchestrator instance does not lead');
    }
    // The leader does not look the key up first: `create` inserts nothing for a known key and answers the
    // existing instance (`existing` or `conflict`), so a new instance costs one statement, not two.
    const id = randomUUID();
    const state = workflow.start(input, id);
    const started = startedSteps(id, workflow.outstanding(state));
    const trace = tracingOn ? startInstanceTrace(type, mode, id) : undefined;
    const create = () =>
      this.log.create(
        { id, type, mode, input, state, idempotencyKey, traceContext: trace?.traceparent ?? null },
        [this.event(id, 1, 0, type, 'started', { mode, status: state.status })],
        this.leadership.fencingToken(),
        started,
      );
    let outcome: CreateOutcome;
    try {
      outcome = await this.guard(
        trace === undefined ? create() : traceContextApi.with(trace.context, () => sqlSpan('create', create)),
      );
    } catch (error) {
      trace?.span.end();
      throw error;
    }
    if (outcome.kind === 'created') this.drive(outcome.instance, started, trace);
    else if (trace !== undefined) {
      trace.span.setAttribute('concord.saga.outcome', outcome.kind);
      trace.span.end();
    }
    return outcome;
  }

  private compare(existing: InstanceRecord, type: string, mode: string, input: unknown): CreateOutcome {
    const same = existing.requestHash === requestHash(type, mode, input);
    return { kind: same ? 'existing' : 'conflict', instance: existing };
  }

  /**
   * Resumes every unfinished instance (at start and whenever this instance becomes leader), at most
   * `resumeConcurrencyMax` at a time, oldest first, so a long backlog does not flood the participants and the
   * log at once. Resolves once the first ones are under way; the rest follow as drivers finish.
   */
  async resumeAll(): Promise<number> {
    this.stopping = new AbortController();
    const signal = this.stopping.signal;
    const ids = await this.log.unfinishedIds(['completed', 'compensated', 'committed', 'aborted', 'failed']);
    const queue = [...ids];
    const lane = async (): Promise<void> => {
      while (!signal.aborted) {
        const id = queue.shift();
        if (id === undefined) return;
        const instance = await this.log.find(id);
        const driver = instance === undefined ? undefined : this.drive(instance);
        if (driver !== undefined) await driver.done;
      }
    };
    const lanes = Math.min(this.options.resumeConcurrencyMax ?? 64, ids.length);
    for (let i = 0; i < lanes; i += 1) {
      void lane().catch((error: unknown) => this.logger.warn(`resume: ${(error as Error).message}`));
    }
    return ids.length;
  }

  /** Now, by the injected clock. */
  now(): number {
    return this.clock();
  }

  /** Stops every driver (leadership lost or shutting down); in-flight sends are abandoned, not undone. */
  async stopAll(): Promise<void> {
    this.stopping.abort();
    await Promise.all([...this.drivers.values()].map((d) => d.done));
  }

  activeCount(): number {
    return this.drivers.size;
  }

  /**
   * `orchestrator.2pc.decision`: the decision if there is one; presumed abort otherwise. An undecided
   * transaction is decided `abort` durably before the answer, so it can never commit afterwards.
   */
  async decisionFor(query: DecisionQuery): Promise<Reply<Decision>> {
    const instance = await this.log.find(query.transactionId);
    if (instance === undefined || instance.mode !== '2pc') return { ok: true, result: { decision: 'abort' } };
    const decided = (instance.state as TwoPhaseState<unknown>).decision;
    if (decided !== undefined) return { ok: true, result: { decision: decided } };
    if (!this.leadership.isLeader()) return { ok: false, reason: 'not the leader; ask again' };
    const driver = this.drivers.get(instance.id);
    const state = driver === undefined ? await this.forceAbort(instance) : await driver.decisionQuery();
    const decision = (state as TwoPhaseState<unknown>).decision ?? 'abort';
    return { ok: true, result: { decision } };
  }

  private async forceAbort(instance: InstanceRecord): Promise<WorkflowStateBase> {
    const workflow = this.workflowOf(instance);
    const next = workflow.onDecisionQuery?.(instance.state) ?? instance.state;
    if (next === instance.state) return next;
    await this.guard(
      this.log.transition(
        instance.id,
        instance.version,
        next,
        undefined,
        this.transitionEvents(instance, instance.state, next, undefined, instance.version + 1),
        this.leadership.fencingToken(),
      ),
    );
    const reloaded = await this.log.find(instance.id);
    if (reloaded !== undefined) this.drive(reloaded);
    return next;
  }

  workflowOf(instance: Pick<InstanceRecord, 'type' | 'mode'>): AnyWorkflow {
    const workflow = this.workflows.get(`${instance.type}/${instance.mode}`);
    if (workflow === undefined)
      throw new UnknownWorkflowError(`no workflow ${instance.type}/${instance.mode}`);
    return workflow;
  }

  event(
    sagaId: string,
    version: number,
    index: number,
    type: string,
    name: string,
    payload: Record<string, unknown>,
  ): LifecycleEvent {
    // Deterministic id: a transition written twice (it cannot commit twice) would carry the same id.
    return {
      eventId: `${sagaId}:${version}:${index}`,
      subject: `${eventSubjectPrefix}.${type}.${name}`,
      payload: { sagaId, type, event: name, version, ...payload },
    };
  }

  transitionEvents(
    instance: Pick<InstanceRecord, 'id' | 'type'>,
    before: WorkflowStateBase,
    after: WorkflowStateBase,
    outcome: StepOutcome | undefined,
    version: number,
  ): LifecycleEvent[] {
    const events: LifecycleEvent[] = [];
    if (outcome !== undefined) {
      const name =
        outcome.status === 'succeeded'
          ? 'step-done'
          : outcome.status === 'refused'
            ? 'step-refused'
            : 'step-gave-up';
      events.push(
        this.event(instance.id, version, events.length, instance.type, name, {
          key: outcome.key,
          reply: outcome.reply,
        }),
      );
    }
    if (after.status !== before.status) {
      events.push(
        this.event(instance.id, version, events.length, instance.type, after.status, {
          status: after.status,
          ...(after.reason === undefined ? {} : { reason: after.reason }),
        }),
      );
    }
    return events;
  }

  finished(id: string, status: string, reason: string | undefined): void {
    this.options.onFinished?.(id, status, reason);
  }

  stepDone(type: string, step: string, status: StepOutcome['status'], startedAtMs: number): void {
    this.options.onStepDone?.(type, step, status, (this.clock() - startedAtMs) / 1000);
  }

  statusChanged(type: string, mode: 'saga' | '2pc', from: string, to: string): void {
    this.options.onStatusChange?.(type, mode, from, to);
  }

  /** A FencedError ends this instance's term: stop driving and tell the leadership port. */
  async guard<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } catch (error) {
      if (error instanceof FencedError) {
        this.logger.warn(`fenced: ${error.message}; stepping down`);
        this.leadership.deposed();
        this.stopping.abort();
      }
      throw error;
    }
  }

  private drive(
    instance: InstanceRecord,
    started: readonly StartedStep[] = [],
    trace?: InstanceTrace,
  ): InstanceDriver | undefined {
    if (this.drivers.has(instance.id) || isFinished(instance.state)) {
      trace?.span.end();
      return undefined;
    }
    const driver = new InstanceDriver(
      this,
      instance,
      started,
      tracingOn
        ? (trace ??
            resumeInstanceTrace(
              instance.type,
              instance.mode,
              instance.id,
              instance.traceContext ?? null,
              instance.version,
            ))
        : undefined,
      this.stopping.signal,
      this.random,
      this.logger,
      this.options.writeRetryMs ?? 200,
    );
    this.drivers.set(instance.id, driver);
    void driver.done.finally(() => this.drivers.delete(instance.id));
    return driver;
  }
}

/** A decided transition on its way to the log. */
interface PendingWrite {
  /** The version the instance has before it (the write is refused unless the log still has it). */
  readonly version: number;
  readonly before: WorkflowStateBase;
  readonly next: WorkflowStateBase;
  readonly outcome: StepOutcome | undefined;
  readonly events: LifecycleEvent[];
  readonly started: StartedStep[];
}

/** Drives one instance to a finished state (or until stopped). Transitions are applied one at a time. */
class InstanceDriver {
  readonly done: Promise<void>;
  /** The newest decided state; ahead of the log while rebuildable transitions are still being written. */
  private state: WorkflowStateBase;
  /** The version `state` has, or will have once its write lands. */
  private version: number;
  private readonly workflow: AnyWorkflow;
  private queue: Promise<unknown> = Promise.resolve();
  /** The write of the last rebuildable transition, running behind the commands it made outstanding (one at most). */
  private writesBehind: Promise<void> = Promise.resolve();
  /** Bumped when the log's state replaces the decided one: writes decided before that are void. */
  private epoch = 0;
  /** Why a write behind failed for good (fenced, stopped): the driver stops at its next turn. */
  private failure: Error | undefined;
  /** When each command this driver made outstanding was first written as started (no read needed to send). */
  private readonly startedAtMs = new Map<string, number>();

  constructor(
    private readonly runtime: SagaRuntime,
    private readonly instance: InstanceRecord,
    started: readonly StartedStep[],
    private readonly trace: InstanceTrace | undefined,
    private readonly signal: AbortSignal,
    private readonly random: () => number,
    private readonly logger: { warn(message: string): void },
    private readonly writeRetryMs: number,
  ) {
    this.state = instance.state;
    this.version = instance.version;
    this.workflow = runtime.workflowOf(instance);
    const now = runtime.now();
    for (const step of started) this.startedAtMs.set(step.key, now);
    const run = trace === undefined ? this.run() : traceContextApi.with(trace.context, () => this.run());
    this.done = run
      .catch((error: unknown) => {
        if (!(error instanceof FencedError) && !this.signal.aborted) {
          this.logger.warn(`saga ${instance.id} driver stopped: ${(error as Error).message}`);
        }
      })
      .finally(() => {
        if (trace === undefined) return;
        trace.span.setAttribute('concord.saga.status', this.state.status);
        if (!isFinished(this.state)) trace.span.addEvent('stopped before finishing');
        trace.span.end();
      });
  }

  private get running(): boolean {
    return (
      this.failure === undefined &&
      !this.signal.aborted &&
      this.runtime.leadership.isLeader() &&
      !isFinished(this.state)
    );
  }

  private async run(): Promise<void> {
    try {
      while (this.running) {
        const commands = this.workflow.outstanding(this.state);
        if (commands.length === 0) break;
        const batch = () => Promise.all(commands.map((command) => this.execute(command)));
        // A 2PC batch is one phase (every prepare, then every commit or abort, then the settle).
        if (tracingOn && this.instance.mode === '2pc') {
          await withSpan(`2pc ${twoPhaseName(commands)}`, {}, batch);
        } else await batch();
      }
    } finally {
      await this.writesBehind;
    }
    if (this.failure !== undefined) throw this.failure;
  }

  private isOutstanding(key: string): boolean {
    return this.workflow.outstanding(this.state).some((c) => c.key === key);
  }

  private execute(command: OutboundCommand): Promise<void> {
    if (!tracingOn) return this.executeCommand(command);
    return withSpan(
      `step ${command.step}`,
      { attributes: { 'concord.saga.step': command.step, 'concord.saga.key': command.key } },
      () => this.executeCommand(command),
    );
  }

  private async executeCommand(command: OutboundCommand): Promise<void> {
    const messageId = messageIdOf(this.instance.id, command.key);
    // Written with the transition that made the command outstanding; a resumed instance reads (or writes) it.
    const startedAtMs =
      this.startedAtMs.get(command.key) ??
      (await this.runtime.log.stepStarted(this.instance.id, command, messageId)).startedAtMs;
    let attempts = 0;
    while (this.running && this.isOutstanding(command.key)) {
      const elapsedMs = this.runtime.now() - startedAtMs;
      // Every command is sent at least once by this driver, even past its deadline. A resumed instance may be
      // behind what was sent: a transition written without a flush is lost with a database crash, after the
      // commands it made outstanding left. Re-sent, the command is answered from the participant's inbox as
      // before and the instance takes the same path again; given up unasked, a step whose successors already
      // ran would be compensated under them.
      if (attempts > 0 && retryExhausted(command.retry, attempts, elapsedMs)) {
        await this.apply(command.key, (s) => this.workflow.onGiveUp(s, command.key), {
          key: command.key,
          status: 'gave-up',
          reply: null,
          attempts,
        });
        this.runtime.stepDone(this.instance.type, command.step, 'gave-up', startedAtMs);
        return;
      }
      attempts += 1;
      const remainingMs = command.retry.deadlineMs - elapsedMs;
      const timeoutMs =
        remainingMs > 0 ? Math.max(1, Math.min(command.timeoutMs, remainingMs)) : command.timeoutMs;
      let reply: Reply<unknown>;
      try {
        const envelope = {
          messageId,
          transactionId: this.instance.id,
          step: command.step,
          fencingToken: this.runtime.leadership.fencingToken(),
          payload: command.payload,
        };
        reply = await this.runtime.send(command.subject, envelope, timeoutMs);
      } catch (error) {
        if (tracingOn) {
          traceApi.getActiveSpan()?.addEvent('re-send', {
            attempt: attempts,
            'exception.message': (error as Error).message,
          });
        }
        // Lost, late, no responder or a handler error: the same message goes again after a backoff.
        await this.pause(retryDelayMs(command.retry, attempts, this.random()));
        continue;
      }
      await this.apply(command.key, (s) => this.workflow.onReply(s, command.key, reply), {
        key: command.key,
        status: reply.ok ? 'succeeded' : 'refused',
        reply,
        attempts,
      });
      this.runtime.stepDone(
        this.instance.type,
        command.step,
        reply.ok ? 'succeeded' : 'refused',
        startedAtMs,
      );
      return;
    }
  }

  /** The decision query of a participant, applied in sequence with this driver's own transitions. */
  async decisionQuery(): Promise<WorkflowStateBase> {
    await this.apply(undefined, (s) => this.workflow.onDecisionQuery?.(s) ?? s, undefined);
    return this.state;
  }

  private apply(
    key: string | undefined,
    decide: (state: WorkflowStateBase) => WorkflowStateBase,
    outcome: StepOutcome | undefined,
  ): Promise<void> {
    const next = this.queue.then(() => this.applyNow(key, decide, outcome));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async applyNow(
    key: string | undefined,
    decide: (state: WorkflowStateBase) => WorkflowStateBase,
    outcome: StepOutcome | undefined,
  ): Promise<void> {
    for (;;) {
      // At most one transition is written behind the commands: the next is decided once the last one landed.
      await this.writesBehind;
      if (this.failure !== undefined) throw this.failure;
      if (key !== undefined && !this.isOutstanding(key)) return;
      const next = decide(this.state);
      if (next === this.state) return;
      const events = this.runtime.transitionEvents(
        this.instance,
        this.state,
        next,
        outcome,
        this.version + 1,
      );
      const started = startedSteps(
        this.instance.id,
        this.workflow.outstanding(next).filter((c) => !this.startedAtMs.has(c.key)),
      );
      // Flushed before anything is sent unless a re-send rebuilds it: an answer (not a give-up or a decision
      // query, which are this instance's own choices) leading to a state the workflow calls rebuildable.
      const rebuildable =
        (outcome?.status === 'succeeded' || outcome?.status === 'refused') &&
        !(this.workflow.mustPersist?.(this.state, next) ?? false);
      const write: PendingWrite = {
        version: this.version,
        before: this.state,
        next,
        outcome,
        events,
        started,
      };
      if (rebuildable && !isFinished(next)) {
        // Written behind: the commands this state makes outstanding leave now, while it is being written. If the
        // write is lost (a crash of this process, or of the database before its flush), a resumed driver re-sends
        // the same message ids from the last written state and the participants' inboxes answer as before, so the
        // same state is reached again and the same commands (same ids) go again.
        this.state = next;
        this.version += 1;
        const now = this.runtime.now();
        for (const step of started) this.startedAtMs.set(step.key, now);
        const epoch = this.epoch;
        this.writesBehind = this.writesBehind.then(() => this.writeBehind(write, epoch));
        return;
      }
      try {
        this.version = await this.write(write, !rebuildable);
        const now = this.runtime.now();
        for (const step of started) this.startedAtMs.set(step.key, now);
        this.state = next;
        if (isFinished(next)) this.runtime.finished(this.instance.id, next.status, next.reason);
        return;
      } catch (error) {
        if (!(error instanceof StaleVersionError)) {
          if (error instanceof FencedError) throw error;
          // The database is unreachable: keep the answer and try the write again until we are stopped.
          this.logger.warn(`saga ${this.instance.id}: write failed, retrying: ${(error as Error).message}`);
          await this.pause(this.writeRetryMs);
          if (this.signal.aborted) throw error;
          continue;
        }
        await this.reload(error);
      }
    }
  }

  /** Writes one transition; answers the new version. Status-change metrics follow the write. */
  private async write(w: PendingWrite, durable: boolean): Promise<number> {
    const transition = () =>
      this.runtime.log.transition(
        this.instance.id,
        w.version,
        w.next,
        w.outcome,
        w.events,
        this.runtime.leadership.fencingToken(),
        w.started,
        durable,
      );
    const version = await this.runtime.guard(tracingOn ? sqlSpan('transition', transition) : transition());
    if (w.next.status !== w.before.status) {
      this.runtime.statusChanged(this.instance.type, this.instance.mode, w.before.status, w.next.status);
    }
    return version;
  }

  /** A write behind: retried while the database is unreachable; a fenced or stopped driver stops. */
  private async writeBehind(w: PendingWrite, epoch: number): Promise<void> {
    while (this.failure === undefined && epoch === this.epoch) {
      try {
        await this.write(w, false);
        return;
      } catch (error) {
        const failure = error instanceof Error ? error : new Error(String(error));
        if (error instanceof StaleVersionError) {
          // Another writer moved the instance: what was decided on top of this state is void.
          await this.reload(failure).catch((reloadError: unknown) => {
            this.failure = reloadError instanceof Error ? reloadError : failure;
          });
          return;
        }
        if (error instanceof FencedError || this.signal.aborted) {
          this.failure = failure;
          return;
        }
        this.logger.warn(`saga ${this.instance.id}: write failed, retrying: ${failure.message}`);
        await this.pause(this.writeRetryMs);
        if (this.signal.aborted) this.failure = failure;
      }
    }
  }

  /** Takes the log's state and version in place of the decided ones (after a stale-version refusal). */
  private async reload(cause: Error): Promise<void> {
    const fresh = await this.runtime.log.find(this.instance.id);
    if (fresh === undefined) throw cause;
    this.epoch += 1;
    this.state = fresh.state;
    this.version = fresh.version;
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.signal }).catch(() => undefined);
  }
}
