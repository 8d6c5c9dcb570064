import type { CommandEnvelope, Reply } from '@concord/contracts';
import type { RetryPolicy } from './retry.js';

/**
 * The engine knows no subjects of its own: an app passes its message map `M` (subject -> [request, reply]) where
 * it wants payloads checked against it (see {@link typedCommands}). Untyped, a subject is any string.
 */
export type RequestIn<M, S extends keyof M> = M[S] extends readonly [infer Q, unknown] ? Q : never;
export type ReplyIn<M, S extends keyof M> = M[S] extends readonly [unknown, infer R] ? R : never;
/** The payload a subject's envelope carries, and the result its positive reply carries. */
export type PayloadOf<M, S extends keyof M> = RequestIn<M, S> extends CommandEnvelope<infer P> ? P : never;
export type ResultOf<M, S extends keyof M> = ReplyIn<M, S> extends Reply<infer R> ? R : never;
/** Subjects of `M` whose request is a command envelope (the participant commands). */
export type CommandSubject<M> = {
  [S in keyof M & string]: RequestIn<M, S> extends CommandEnvelope<unknown> ? S : never;
}[keyof M & string];

/** One command a workflow wants in flight. The runtime sends it until it has an answer or gives up. */
export interface OutboundCommand {
  /** Unique within one workflow instance and stable across restarts: the message id derives from it. */
  readonly key: string;
  /** The envelope's `step`. */
  readonly step: string;
  readonly subject: string;
  readonly payload: unknown;
  /** How long one attempt waits for an answer. */
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
}

export type WorkflowStatus =
  | 'running'
  | 'compensating'
  | 'completed'
  | 'compensated'
  | 'preparing'
  | 'committing'
  | 'aborting'
  | 'committed'
  | 'aborted'
  | 'failed';

export const FINISHED_STATUSES: readonly WorkflowStatus[] = [
  'completed',
  'compensated',
  'committed',
  'aborted',
  'failed',
];

/** What every workflow state shows the runtime. Deciders keep more, privately, in the same JSON value. */
export interface WorkflowStateBase {
  readonly status: WorkflowStatus;
  readonly reason?: string;
}

/**
 * A workflow only decides: given its state and an event it returns the next state; the runtime persists that
 * state and only then sends what {@link Workflow.outstanding} asks for. Every function is pure and synchronous;
 * states are plain JSON so the runtime can store them.
 */
export interface Workflow<I, St extends WorkflowStateBase> {
  readonly type: string;
  readonly mode: 'saga' | '2pc';
  /** Validates untrusted input; throws an Error whose message says what is wrong. */
  parseInput(raw: unknown): I;
  /** The first state of a new instance; `transactionId` is the instance's id (2PC builds gids from it). */
  start(input: I, transactionId: string): St;
  /** Commands that should be in flight in this state (none once finished). */
  outstanding(state: St): readonly OutboundCommand[];
  /** An answer to the command `key`. Answers to commands no longer outstanding leave the state unchanged. */
  onReply(state: St, key: string, reply: Reply<unknown>): St;
  /** The command `key` got no answer within its retry policy. */
  onGiveUp(state: St, key: string): St;
  /**
   * True when `after`, reached from `before` on a participant's answer, holds something no re-sent command could
   * rebuild (a two-phase decision): the runtime then waits for its WAL flush before sending anything. States
   * reached on an answer are otherwise committed without waiting for the flush: after a database crash the
   * runtime re-sends the same message ids and the participants answer from their inboxes, rebuilding them.
   * Absent: every state reached on an answer is rebuildable.
   */
  mustPersist?(before: St, after: St): boolean;
}

export function isFinished(state: WorkflowStateBase): boolean {
  return FINISHED_STATUSES.includes(state.status);
}
