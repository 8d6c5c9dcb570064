import {
  describeIssues,
  schemas,
  type MessageMap,
  type PlaceOrderInput,
  type PricedLine,
} from '@concord/contracts';
import {
  sagaWorkflow,
  twoPhaseWorkflow,
  typedCommands,
  type RetryPolicy,
  type SagaState,
  type TwoPhaseState,
  type Workflow,
} from '@concord/saga';

/**
 * Step names of place-order, as carried in `CommandEnvelope.step` and shown in the saga log. They are this
 * workflow's own words: participants never see them as keys (their fences are keyed by subject).
 */
export const PLACE_ORDER_STEPS = {
  reserveStock: 'reserve-stock',
  releaseStock: 'release-stock',
  holdFunds: 'hold-funds',
  releaseFunds: 'release-funds',
  commitStock: 'commit-stock',
  captureFunds: 'capture-funds',
  confirmOrder: 'confirm-order',
  cancelOrder: 'cancel-order',
  prepareStock: 'prepare-stock',
  prepareFunds: 'prepare-funds',
} as const;
const STEPS = PLACE_ORDER_STEPS;

/** Payloads checked against the message map of libs/contracts. */
const { command, foldResult } = typedCommands<MessageMap>();

/**
 * Untrusted input of place-order (REST body or `orchestrator.start`), checked before anything is stored, against
 * the same schema (and limits) as the orders API and the participants' handlers.
 */
export function parsePlaceOrderInput(raw: unknown): PlaceOrderInput {
  const result = schemas.placeOrderInput.safeParse(raw);
  if (!result.success) throw new Error(describeIssues(result.error, 'body'));
  return result.data;
}

export interface PlaceOrderData {
  readonly input: PlaceOrderInput;
  readonly lines?: readonly PricedLine[];
  readonly totalCents?: number;
}

/** Timing of the place-order workflows; tests shorten it. */
export interface PlaceOrderTiming {
  /** One attempt of a step before the pivot (or a prepare) waits this long for an answer. */
  readonly attemptTimeoutMs: number;
  /** A step before the pivot (or a prepare) unanswered this long is given up: compensate / abort. */
  readonly stepDeadlineMs: number;
  /** One attempt of a compensation, a step after the pivot or a phase-two command. */
  readonly retriableTimeoutMs: number;
}

export const PLACE_ORDER_TIMING_DEFAULT: PlaceOrderTiming = {
  attemptTimeoutMs: 2_000,
  stepDeadlineMs: 15_000,
  retriableTimeoutMs: 2_000,
};

function beforePivotRetry(timing: PlaceOrderTiming): RetryPolicy {
  return {
    attemptsMax: Number.POSITIVE_INFINITY,
    backoffInitialMs: 100,
    backoffMaxMs: 1_000,
    jitterRatio: 0.5,
    deadlineMs: timing.stepDeadlineMs,
  };
}

const afterPivotRetry: RetryPolicy = {
  attemptsMax: Number.POSITIVE_INFINITY,
  backoffInitialMs: 100,
  backoffMaxMs: 2_000,
  jitterRatio: 0.5,
  deadlineMs: Number.POSITIVE_INFINITY,
};

/**
 * Place an order as a saga: reserve stock → hold funds (the pivot) → commit stock → capture funds → confirm.
 * A refusal or a deadline before the pivot releases what was done, in reverse order, then cancels the order.
 */
export function placeOrderSaga(
  timing: PlaceOrderTiming = PLACE_ORDER_TIMING_DEFAULT,
): Workflow<PlaceOrderInput, SagaState<PlaceOrderData>> {
  const retry = beforePivotRetry(timing);
  return sagaWorkflow<PlaceOrderInput, PlaceOrderData>({
    type: 'place-order',
    parseInput: parsePlaceOrderInput,
    initialData: (input) => ({ input }),
    compensationTimeoutMs: timing.retriableTimeoutMs,
    steps: [
      {
        name: STEPS.reserveStock,
        kind: 'compensatable',
        action: command('inventory.reserve', STEPS.reserveStock, (d: PlaceOrderData) => ({
          orderId: d.input.orderId,
          items: d.input.items,
        })),
        onResult: foldResult('inventory.reserve', (d: PlaceOrderData, r) => ({
          ...d,
          lines: r.lines,
          totalCents: r.totalCents,
        })),
        compensation: command('inventory.release', STEPS.releaseStock, (d: PlaceOrderData) => ({
          orderId: d.input.orderId,
        })),
        retry,
        timeoutMs: timing.attemptTimeoutMs,
      },
      {
        name: STEPS.holdFunds,
        kind: 'compensatable',
        action: command('payments.hold', STEPS.holdFunds, (d: PlaceOrderData) => ({
          orderId: d.input.orderId,
          customerId: d.input.customerId,
          amountCents: d.totalCents ?? 0,
        })),
        compensation: command('payments.release', STEPS.releaseFunds, (d: PlaceOrderData) => ({
          orderId: d.input.orderId,
        })),
        retry,
        timeoutMs: timing.attemptTimeoutMs,
      },
      {
        name: STEPS.commitStock,
        kind: 'retriable',
        action: command('inventory.commit', STEPS.commitStock, (d: PlaceOrderData) => ({
          orderId: d.input.orderId,
        })),
        retry: afterPivotRetry,
        timeoutMs: timing.retriableTimeoutMs,
      },
      {
        name: STEPS.captureFunds,
        kind: 'retriable',
        action: command('payments.capture', STEPS.captureFunds, (d: PlaceOrderData) => ({
          orderId: d.input.orderId,
        })),
        retry: afterPivotRetry,
        timeoutMs: timing.retriableTimeoutMs,
      },
      {
        name: STEPS.confirmOrder,
        kind: 'retriable',
        action: command('orders.settle', STEPS.confirmOrder, (d: PlaceOrderData) => ({
          orderId: d.input.orderId,
          status: 'CONFIRMED' as const,
          ...(d.totalCents === undefined ? {} : { totalCents: d.totalCents }),
        })),
        // CONFIRMED means sold and paid: the order is settled only after the stock and the money are.
        after: [STEPS.commitStock, STEPS.captureFunds],
        retry: afterPivotRetry,
        timeoutMs: timing.retriableTimeoutMs,
      },
    ],
    afterCompensation: [
      {
        name: STEPS.cancelOrder,
        command: command('orders.settle', STEPS.cancelOrder, (d: PlaceOrderData, reason) => ({
          orderId: d.input.orderId,
          status: 'CANCELLED' as const,
          reason: reason ?? 'cancelled',
        })),
      },
    ],
  });
}

/**
 * Place an order by two-phase commit: inventory prepares the sale (stock decremented, prices returned), then
 * payments prepares the capture of that total; commit both, or abort both; then settle the order.
 */
export function placeOrderTwoPhase(timing: PlaceOrderTiming = PLACE_ORDER_TIMING_DEFAULT) {
  const retry = beforePivotRetry(timing);
  return twoPhaseWorkflow<PlaceOrderInput, PlaceOrderData>({
    type: 'place-order',
    parseInput: parsePlaceOrderInput,
    initialData: (input) => ({ input }),
    phaseTwoTimeoutMs: timing.retriableTimeoutMs,
    participants: [
      {
        service: 'inventory',
        prepare: { subject: 'inventory.2pc.prepare', step: STEPS.prepareStock },
        commit: 'inventory.2pc.commit',
        abort: 'inventory.2pc.abort',
        operation: (d) => ({ orderId: d.input.orderId, items: d.input.items }),
        onPrepared: (d, result) => {
          const reserved = result as { lines: readonly PricedLine[]; totalCents: number };
          return { ...d, lines: reserved.lines, totalCents: reserved.totalCents };
        },
        prepareRetry: retry,
        prepareTimeoutMs: timing.attemptTimeoutMs,
      },
      {
        service: 'payments',
        prepare: { subject: 'payments.2pc.prepare', step: STEPS.prepareFunds },
        commit: 'payments.2pc.commit',
        abort: 'payments.2pc.abort',
        operation: (d) => ({
          orderId: d.input.orderId,
          customerId: d.input.customerId,
          amountCents: d.totalCents ?? 0,
        }),
        prepareRetry: retry,
        prepareTimeoutMs: timing.attemptTimeoutMs,
      },
    ],
    afterCommit: command('orders.settle', STEPS.confirmOrder, (d: PlaceOrderData) => ({
      orderId: d.input.orderId,
      status: 'CONFIRMED' as const,
      ...(d.totalCents === undefined ? {} : { totalCents: d.totalCents }),
    })),
    afterAbort: command('orders.settle', STEPS.cancelOrder, (d: PlaceOrderData, reason) => ({
      orderId: d.input.orderId,
      status: 'CANCELLED' as const,
      reason: reason ?? 'aborted',
    })),
  });
}

export type PlaceOrderSagaState = SagaState<PlaceOrderData>;
export type PlaceOrderTwoPhaseState = TwoPhaseState<PlaceOrderData>;
