import {
  contextFromTraceparent,
  SpanKind,
  traceApi,
  traceContextApi,
  tracer,
  traceparentOf,
  type Span,
  type TraceContext,
} from '@concord/platform';
import type { OutboundCommand } from '../definition/workflow.js';

/**
 * The spans of one transaction instance, made only while tracing is on (callers test `tracingOn` first):
 *
 *   saga <type> | 2pc <type>                    one per run of a driver (a resumed run: a new span, same trace)
 *     2pc prepare | 2pc commit | 2pc abort       2PC: one per phase (a batch of commands the decider made outstanding)
 *       step <name>                              one per command until its answer (re-sends are events)
 *         <subject> send                         the NATS request, whose traceparent the participant continues
 *     saga_log transition                        the SQL statement that records the outcome (one transaction)
 */
export interface InstanceTrace {
  readonly span: Span;
  readonly context: TraceContext;
  /** `traceparent` of the instance span, stored with the instance. */
  readonly traceparent: string;
}

/** The span of a new instance, child of the active context (the handler of `orchestrator.start`). */
export function startInstanceTrace(type: string, mode: 'saga' | '2pc', id: string): InstanceTrace {
  const parent = traceContextApi.active();
  const span = tracer().startSpan(
    `${mode} ${type}`,
    { kind: SpanKind.INTERNAL, attributes: { 'concord.saga.id': id, 'concord.saga.mode': mode } },
    parent,
  );
  return { span, context: traceApi.setSpan(parent, span), traceparent: traceparentOf(span) };
}

/**
 * The span of a run resumed from the log (after a crash or a leadership change): a child of the stored
 * instance span, so the same trace continues, marked `concord.saga.resumed` with a `resumed` event.
 */
export function resumeInstanceTrace(
  type: string,
  mode: 'saga' | '2pc',
  id: string,
  traceparent: string | null,
  version: number,
): InstanceTrace {
  const parent = contextFromTraceparent(traceparent);
  const span = tracer().startSpan(
    `${mode} ${type} resumed`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        'concord.saga.id': id,
        'concord.saga.mode': mode,
        'concord.saga.resumed': true,
        'concord.saga.version': version,
      },
    },
    parent,
  );
  span.addEvent('resumed', { 'concord.saga.version': version });
  return { span, context: traceApi.setSpan(parent, span), traceparent: traceparentOf(span) };
}

/** The 2PC phase a batch of outstanding commands belongs to (keys `prepare:*`, `decide:*`, the settle step). */
export function twoPhaseName(commands: readonly OutboundCommand[]): string {
  const first = commands[0];
  if (first === undefined) return 'idle';
  if (first.key.startsWith('prepare:')) return 'prepare';
  if (first.key.startsWith('decide:')) return first.step;
  return first.step;
}
