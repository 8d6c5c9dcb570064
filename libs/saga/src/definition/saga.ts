import type { Reply } from '@concord/contracts';
import { RETRY_FOREVER, type RetryPolicy } from './retry.js';
import type {
  CommandSubject,
  OutboundCommand,
  PayloadOf,
  ResultOf,
  Workflow,
  WorkflowStateBase,
} from './workflow.js';

/** A command of a step: its subject and how its payload is built from the saga's data. */
export interface CommandSpec<D> {
  readonly subject: string;
  readonly step: string;
  readonly build: (data: D, reason: string | undefined) => unknown;
}

/** Builds a {@link CommandSpec} (untyped: see {@link typedCommands} for one checked against a message map). */
export function command<D>(
  subject: string,
  step: string,
  build: (data: D, reason: string | undefined) => unknown,
): CommandSpec<D> {
  return { subject, step, build };
}

/**
 * `command` and `foldResult` checked against an app's message map `M`: a payload built for a subject must be
 * the payload `M` gives it, and a fold receives the result type of its reply.
 * `const { command, foldResult } = typedCommands<MessageMap>();`
 */
export function typedCommands<M>(): {
  readonly command: <D, S extends CommandSubject<M>>(
    subject: S,
    step: string,
    build: (data: D, reason: string | undefined) => PayloadOf<M, S>,
  ) => CommandSpec<D>;
  readonly foldResult: <D, S extends CommandSubject<M>>(
    subject: S,
    fold: (data: D, result: ResultOf<M, S>) => D,
  ) => (data: D, result: unknown) => D;
} {
  return {
    command: (subject, step, build) => ({ subject, step, build }),
    foldResult: (_subject, fold) => (data, result) => fold(data, result as never),
  };
}

/**
 * One step of a saga.
 * - `compensatable`: may be refused or time out; then every compensatable step done so far is compensated.
 * - `retriable`: after the pivot (the last compensatable step); re-sent until it succeeds, never compensated.
 */
export interface SagaStep<D> {
  readonly name: string;
  readonly kind: 'compensatable' | 'retriable';
  readonly action: CommandSpec<D>;
  /** Folds the action's result into the saga's data (e.g. a price the next step needs). */
  readonly onResult?: (data: D, result: unknown) => D;
  readonly compensation?: CommandSpec<D>;
  readonly retry: RetryPolicy;
  /** How long one attempt waits for an answer. */
  readonly timeoutMs: number;
  /**
   * Retriable steps only: the retriable steps that must be done before this one is sent. The others after the
   * pivot run at once; e.g. a booking is confirmed only once each resource it books is paid for.
   */
  readonly after?: readonly string[];
}

export interface SagaDefinition<I, D> {
  readonly type: string;
  readonly parseInput: (raw: unknown) => I;
  readonly initialData: (input: I) => D;
  readonly steps: readonly SagaStep<D>[];
  /** Runs after the compensations (e.g. mark the request cancelled); retried until they succeed. */
  readonly afterCompensation: readonly { readonly name: string; readonly command: CommandSpec<D> }[];
  /** Timeout of one attempt of a compensation or an after-compensation command. */
  readonly compensationTimeoutMs: number;
}

export interface SagaState<D> extends WorkflowStateBase {
  readonly status: 'running' | 'compensating' | 'completed' | 'compensated' | 'failed';
  readonly data: D;
  /** running: index of the current step; compensating: index into `plan` (then into afterCompensation). */
  readonly position: number;
  /** Names of the steps to compensate, as they run (reverse of completion). */
  readonly plan: readonly string[];
  /** Names of the steps whose action succeeded (or is in doubt after a timeout), first to last. */
  readonly done: readonly string[];
}

const compensationPrefix = 'compensate:';
const afterPrefix = 'after:';

/** Turns a saga definition into a pure decider. */
export function sagaWorkflow<I, D>(definition: SagaDefinition<I, D>): Workflow<I, SagaState<D>> {
  const byName = new Map(definition.steps.map((s) => [s.name, s] as const));
  if (byName.size !== definition.steps.length) throw new Error(`saga ${definition.type}: step names repeat`);
  // A participant fences an action by (transaction, subject): two steps sending the same subject would share it.
  const subjects = definition.steps.map((s) => s.action.subject);
  if (new Set(subjects).size !== subjects.length) {
    throw new Error(`saga ${definition.type}: two steps send the same subject (fences are keyed by subject)`);
  }
  const lastCompensatable = definition.steps.map((s) => s.kind).lastIndexOf('compensatable');
  const firstRetriable = definition.steps.findIndex((s) => s.kind === 'retriable');
  if (firstRetriable !== -1 && firstRetriable < lastCompensatable) {
    throw new Error(`saga ${definition.type}: a retriable step comes before a compensatable one`);
  }
  for (const [i, step] of definition.steps.entries()) {
    for (const name of step.after ?? []) {
      const earlier = definition.steps.slice(firstRetriable, i).some((s) => s.name === name);
      if (step.kind !== 'retriable' || !earlier) {
        throw new Error(
          `saga ${definition.type}: ${step.name} may only wait for earlier retriable steps (${name})`,
        );
      }
    }
  }

  function beginCompensation(state: SagaState<D>, doneNow: readonly string[], reason: string): SagaState<D> {
    const plan = [...doneNow].reverse().filter((name) => byName.get(name)?.compensation !== undefined);
    return { ...state, status: 'compensating', position: 0, plan, done: doneNow, reason };
  }

  function currentCompensation(state: SagaState<D>): OutboundCommand | undefined {
    const name = state.plan[state.position];
    if (name !== undefined) {
      const step = byName.get(name);
      if (step?.compensation === undefined) return undefined;
      return {
        key: `${compensationPrefix}${name}`,
        step: step.compensation.step,
        subject: step.compensation.subject,
        payload: step.compensation.build(state.data, state.reason),
        timeoutMs: definition.compensationTimeoutMs,
        retry: RETRY_FOREVER,
      };
    }
    const after = definition.afterCompensation[state.position - state.plan.length];
    if (after === undefined) return undefined;
    return {
      key: `${afterPrefix}${after.name}`,
      step: after.command.step,
      subject: after.command.subject,
      payload: after.command.build(state.data, state.reason),
      timeoutMs: definition.compensationTimeoutMs,
      retry: RETRY_FOREVER,
    };
  }

  function advanceCompensation(state: SagaState<D>): SagaState<D> {
    const position = state.position + 1;
    const finished = position >= state.plan.length + definition.afterCompensation.length;
    return { ...state, position, status: finished ? 'compensated' : 'compensating' };
  }

  /**
   * The steps whose action should be in flight: the current one before the pivot; after it, every retriable
   * step not yet done, all at once (none can be refused into a compensation, so their sequence does not matter).
   */
  function pendingSteps(state: SagaState<D>): readonly SagaStep<D>[] {
    if (state.status !== 'running') return [];
    const step = definition.steps[state.position];
    if (step === undefined) return [];
    if (step.kind === 'compensatable') return [step];
    return definition.steps
      .slice(firstRetriable)
      .filter((s) => !state.done.includes(s.name) && (s.after ?? []).every((n) => state.done.includes(n)));
  }

  function outstanding(state: SagaState<D>): readonly OutboundCommand[] {
    if (state.status === 'running') {
      return pendingSteps(state).map((step) => ({
        key: step.name,
        step: step.action.step,
        subject: step.action.subject,
        payload: step.action.build(state.data, undefined),
        timeoutMs: step.timeoutMs,
        retry: step.retry,
      }));
    }
    if (state.status === 'compensating') {
      const next = currentCompensation(state);
      return next === undefined ? [] : [next];
    }
    return [];
  }

  return {
    type: definition.type,
    mode: 'saga',
    parseInput: definition.parseInput,

    start(input) {
      const empty = definition.steps.length === 0;
      return {
        status: empty ? 'completed' : 'running',
        data: definition.initialData(input),
        position: 0,
        plan: [],
        done: [],
      };
    },

    outstanding,

    onReply(state, key, reply: Reply<unknown>) {
      if (state.status === 'compensating') {
        const [expected] = outstanding(state);
        if (expected === undefined || expected.key !== key) return state;
        if (!reply.ok) return { ...state, status: 'failed', reason: `${key} refused: ${reply.reason}` };
        return advanceCompensation(state);
      }
      const step = pendingSteps(state).find((s) => s.name === key);
      if (step === undefined) return state;
      if (!reply.ok) {
        // A refusal is recorded by the participant with its business change rolled back: nothing to undo here.
        if (step.kind === 'compensatable') return beginCompensation(state, state.done, reply.reason);
        return {
          ...state,
          status: 'failed',
          reason: `${step.name} refused after the pivot: ${reply.reason}`,
        };
      }
      const data = step.onResult === undefined ? state.data : step.onResult(state.data, reply.result);
      const position = state.position + 1;
      const done = [...state.done, step.name];
      const status = position >= definition.steps.length ? 'completed' : 'running';
      return { ...state, data, position, done, status };
    },

    onGiveUp(state, key) {
      const pending = outstanding(state);
      if (!pending.some((c) => c.key === key)) return state;
      const step = pendingSteps(state).find((s) => s.name === key);
      if (step?.kind === 'compensatable') {
        // The action may have run without us hearing of it: compensate it too (a participant that never ran
        // it records a marker and refuses it if it arrives late).
        return beginCompensation(
          state,
          [...state.done, step.name],
          `${step.name}: no answer before the deadline`,
        );
      }
      return { ...state, status: 'failed', reason: `${key}: gave up` };
    },
  };
}
