import type { Prepare, Prepared, Reply } from '@concord/contracts';
import { makeGid } from '../participant/gid.js';
import { RETRY_FOREVER, type RetryPolicy } from './retry.js';
import type { CommandSpec } from './saga.js';
import type { OutboundCommand, Workflow, WorkflowStateBase } from './workflow.js';

/** One resource manager of a two-phase transaction: a service with prepare, commit and abort subjects. */
export interface TwoPhaseParticipant<D> {
  /** The service name: the gid is `<service>:<transactionId>`. */
  readonly service: string;
  readonly prepare: { readonly subject: string; readonly step: string };
  readonly commit: string;
  readonly abort: string;
  /** The operation sent inside `Prepare<Op>`, built from the data gathered so far. */
  readonly operation: (data: D) => unknown;
  /** Folds the prepared work's result into the data (e.g. a figure the next participant needs). */
  readonly onPrepared?: (data: D, result: unknown) => D;
  readonly prepareRetry: RetryPolicy;
  readonly prepareTimeoutMs: number;
}

export interface TwoPhaseDefinition<I, D> {
  readonly type: string;
  readonly parseInput: (raw: unknown) => I;
  readonly initialData: (input: I) => D;
  /** Prepared one after the other, first to last (a later one may need an earlier one's result). */
  readonly participants: readonly TwoPhaseParticipant<D>[];
  /** After phase two: told the outcome (e.g. record the outcome), retried until it succeeds. */
  readonly afterCommit: CommandSpec<D>;
  readonly afterAbort: CommandSpec<D>;
  readonly phaseTwoTimeoutMs: number;
}

export interface TwoPhaseState<D> extends WorkflowStateBase {
  readonly status: 'preparing' | 'committing' | 'aborting' | 'committed' | 'aborted' | 'failed';
  readonly transactionId: string;
  readonly data: D;
  /** Index of the participant being prepared. */
  readonly position: number;
  /** Presumed abort: undefined until decided; once set it never changes. */
  readonly decision?: 'commit' | 'abort';
  /** Services that answered phase two. */
  readonly acknowledged: readonly string[];
  /** The after-commit/after-abort command answered. */
  readonly settled: boolean;
}

const phaseOnePrefix = 'prepare:';
const phaseTwoPrefix = 'decide:';
const settleKey = 'settle';

/**
 * Turns a two-phase definition into a pure decider. The runtime persists every state before sending, so the
 * transition to `committing` (the decision) is durable before any commit leaves, as presumed abort requires.
 */
export function twoPhaseWorkflow<I, D>(
  definition: TwoPhaseDefinition<I, D>,
): Workflow<I, TwoPhaseState<D>> & {
  /** A participant asks for the decision: an undecided transaction is decided `abort` now (presumed abort). */
  onDecisionQuery(state: TwoPhaseState<D>): TwoPhaseState<D>;
} {
  const services = definition.participants.map((p) => p.service);
  if (new Set(services).size !== services.length) throw new Error(`2PC ${definition.type}: services repeat`);

  /** Phase two goes to every participant whose prepare may have been sent, including one that never answered. */
  function phaseTwoTargets(state: TwoPhaseState<D>): readonly TwoPhaseParticipant<D>[] {
    if (state.decision === 'commit') return definition.participants;
    return definition.participants.slice(0, Math.min(state.position + 1, definition.participants.length));
  }

  function decide(state: TwoPhaseState<D>, decision: 'commit' | 'abort', reason?: string): TwoPhaseState<D> {
    if (state.decision !== undefined) return state;
    return {
      ...state,
      decision,
      status: decision === 'commit' ? 'committing' : 'aborting',
      ...(reason === undefined ? {} : { reason }),
    };
  }

  function outstanding(state: TwoPhaseState<D>): readonly OutboundCommand[] {
    if (state.status === 'preparing') {
      const participant = definition.participants[state.position];
      if (participant === undefined) return [];
      const payload: Prepare<unknown> = {
        gid: makeGid(participant.service, state.transactionId),
        operation: participant.operation(state.data),
      };
      return [
        {
          key: `${phaseOnePrefix}${participant.service}`,
          step: participant.prepare.step,
          subject: participant.prepare.subject,
          payload,
          timeoutMs: participant.prepareTimeoutMs,
          retry: participant.prepareRetry,
        },
      ];
    }
    if (state.status !== 'committing' && state.status !== 'aborting') return [];
    const waiting = phaseTwoTargets(state).filter((p) => !state.acknowledged.includes(p.service));
    if (waiting.length > 0) {
      return waiting.map((p) => ({
        key: `${phaseTwoPrefix}${p.service}`,
        step: state.decision === 'commit' ? 'commit' : 'abort',
        subject: state.decision === 'commit' ? p.commit : p.abort,
        payload: { gid: makeGid(p.service, state.transactionId) },
        timeoutMs: definition.phaseTwoTimeoutMs,
        retry: RETRY_FOREVER,
      }));
    }
    const settle = state.decision === 'commit' ? definition.afterCommit : definition.afterAbort;
    return [
      {
        key: settleKey,
        step: settle.step,
        subject: settle.subject,
        payload: settle.build(state.data, state.reason),
        timeoutMs: definition.phaseTwoTimeoutMs,
        retry: RETRY_FOREVER,
      },
    ];
  }

  function isOutstanding(state: TwoPhaseState<D>, key: string): boolean {
    return outstanding(state).some((c) => c.key === key);
  }

  function startWithId(input: I, transactionId: string): TwoPhaseState<D> {
    makeGid('check', transactionId);
    return {
      status: 'preparing',
      transactionId,
      data: definition.initialData(input),
      position: 0,
      acknowledged: [],
      settled: false,
    };
  }

  return {
    type: definition.type,
    mode: '2pc',
    parseInput: definition.parseInput,
    start: startWithId,
    outstanding,

    onReply(state, key, reply: Reply<unknown>) {
      if (!isOutstanding(state, key)) return state;
      if (state.status === 'preparing') {
        const participant = definition.participants[state.position];
        if (participant === undefined) return state;
        if (!reply.ok) return decide(state, 'abort', reply.reason);
        const prepared = reply.result as Prepared;
        const data =
          participant.onPrepared === undefined
            ? state.data
            : participant.onPrepared(state.data, prepared.result);
        const position = state.position + 1;
        const next = { ...state, data, position };
        return position >= definition.participants.length ? decide(next, 'commit') : next;
      }
      if (key === settleKey) {
        if (!reply.ok) return { ...state, status: 'failed', reason: `settle refused: ${reply.reason}` };
        return { ...state, settled: true, status: state.decision === 'commit' ? 'committed' : 'aborted' };
      }
      const service = key.slice(phaseTwoPrefix.length);
      if (!reply.ok) {
        // A participant that cannot apply the decision breaks atomicity: stop and say so loudly.
        return {
          ...state,
          status: 'failed',
          reason: `${service} refused ${state.decision}: ${reply.reason}`,
        };
      }
      return { ...state, acknowledged: [...state.acknowledged, service] };
    },

    onGiveUp(state, key) {
      if (!isOutstanding(state, key)) return state;
      if (state.status === 'preparing')
        return decide(state, 'abort', `${key}: no answer before the deadline`);
      return { ...state, status: 'failed', reason: `${key}: gave up` };
    },

    onDecisionQuery(state) {
      return state.status === 'preparing'
        ? decide(state, 'abort', 'decision asked before all prepared')
        : state;
    },
    // The decision must reach the disk before any commit or abort leaves (presumed abort).
    mustPersist(before, after) {
      return after.decision !== before.decision;
    },
  };
}
