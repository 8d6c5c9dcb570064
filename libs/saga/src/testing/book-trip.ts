import type { CommandEnvelope, Decide, Prepare, Prepared, Reply } from '@concord/contracts';
import { RETRY_FOREVER, type RetryPolicy } from '../definition/retry.js';
import { sagaWorkflow, typedCommands, type SagaState } from '../definition/saga.js';
import { twoPhaseWorkflow, type TwoPhaseState } from '../definition/two-phase.js';
import type { Workflow } from '../definition/workflow.js';

/**
 * The engine's own example for its tests: the classic trip booking (Garcia-Molina and Salem's saga paper). It has
 * the shape every real workflow has (a compensatable step, a pivot, retriable steps that wait for each other, a
 * closing step after compensation) and nothing of Concord's example domain, which lives in apps/orchestrator.
 */
export interface BookTripInput {
  readonly tripId: string;
  readonly travellerId: string;
  readonly nights: number;
}

interface RoomBooked {
  readonly priceCents: number;
}
interface TripRef {
  readonly tripId: string;
}

/** The example's message map: subject -> [request, reply]. */
export interface TripMessages {
  'rooms.book': [CommandEnvelope<{ tripId: string; nights: number }>, Reply<RoomBooked>];
  'rooms.cancel': [CommandEnvelope<TripRef>, Reply<null>];
  'rooms.confirm': [CommandEnvelope<TripRef>, Reply<null>];
  'cards.hold': [CommandEnvelope<{ tripId: string; travellerId: string; amountCents: number }>, Reply<null>];
  'cards.release': [CommandEnvelope<TripRef>, Reply<null>];
  'cards.charge': [CommandEnvelope<TripRef>, Reply<null>];
  'trips.settle': [CommandEnvelope<{ tripId: string; booked: boolean; reason?: string }>, Reply<null>];
  'rooms.2pc.prepare': [CommandEnvelope<Prepare<{ tripId: string; nights: number }>>, Reply<Prepared>];
  'rooms.2pc.commit': [CommandEnvelope<Decide>, Reply<null>];
  'rooms.2pc.abort': [CommandEnvelope<Decide>, Reply<null>];
  'cards.2pc.prepare': [CommandEnvelope<Prepare<{ amountCents: number }>>, Reply<Prepared>];
  'cards.2pc.commit': [CommandEnvelope<Decide>, Reply<null>];
  'cards.2pc.abort': [CommandEnvelope<Decide>, Reply<null>];
}

export interface BookTripData {
  readonly input: BookTripInput;
  readonly priceCents?: number;
}

export const BOOK_TRIP_STEP_DEADLINE_MS = 15_000;

const beforePivot: RetryPolicy = {
  attemptsMax: Number.POSITIVE_INFINITY,
  backoffInitialMs: 100,
  backoffMaxMs: 1_000,
  jitterRatio: 0.5,
  deadlineMs: BOOK_TRIP_STEP_DEADLINE_MS,
};

const { command, foldResult } = typedCommands<TripMessages>();

export function parseBookTripInput(raw: unknown): BookTripInput {
  const value = raw as Partial<BookTripInput> | null;
  if (
    typeof value?.tripId !== 'string' ||
    typeof value.travellerId !== 'string' ||
    typeof value.nights !== 'number'
  ) {
    throw new Error('expected {tripId, travellerId, nights}');
  }
  return { tripId: value.tripId, travellerId: value.travellerId, nights: value.nights };
}

/** Book a room → hold the card (the pivot) → confirm the room and charge the card → settle the trip. */
export function bookTripSaga(): Workflow<BookTripInput, SagaState<BookTripData>> {
  return sagaWorkflow<BookTripInput, BookTripData>({
    type: 'book-trip',
    parseInput: parseBookTripInput,
    initialData: (input) => ({ input }),
    compensationTimeoutMs: 2_000,
    steps: [
      {
        name: 'book-room',
        kind: 'compensatable',
        action: command('rooms.book', 'book-room', (d: BookTripData) => ({
          tripId: d.input.tripId,
          nights: d.input.nights,
        })),
        onResult: foldResult('rooms.book', (d: BookTripData, r) => ({ ...d, priceCents: r.priceCents })),
        compensation: command('rooms.cancel', 'cancel-room', (d: BookTripData) => ({
          tripId: d.input.tripId,
        })),
        retry: beforePivot,
        timeoutMs: 2_000,
      },
      {
        name: 'hold-card',
        kind: 'compensatable',
        action: command('cards.hold', 'hold-card', (d: BookTripData) => ({
          tripId: d.input.tripId,
          travellerId: d.input.travellerId,
          amountCents: d.priceCents ?? 0,
        })),
        compensation: command('cards.release', 'release-card', (d: BookTripData) => ({
          tripId: d.input.tripId,
        })),
        retry: beforePivot,
        timeoutMs: 2_000,
      },
      {
        name: 'confirm-room',
        kind: 'retriable',
        action: command('rooms.confirm', 'confirm-room', (d: BookTripData) => ({ tripId: d.input.tripId })),
        retry: RETRY_FOREVER,
        timeoutMs: 2_000,
      },
      {
        name: 'charge-card',
        kind: 'retriable',
        action: command('cards.charge', 'charge-card', (d: BookTripData) => ({ tripId: d.input.tripId })),
        retry: RETRY_FOREVER,
        timeoutMs: 2_000,
      },
      {
        name: 'confirm-trip',
        kind: 'retriable',
        action: command('trips.settle', 'confirm-trip', (d: BookTripData) => ({
          tripId: d.input.tripId,
          booked: true,
        })),
        after: ['confirm-room', 'charge-card'],
        retry: RETRY_FOREVER,
        timeoutMs: 2_000,
      },
    ],
    afterCompensation: [
      {
        name: 'cancel-trip',
        command: command('trips.settle', 'cancel-trip', (d: BookTripData, reason) => ({
          tripId: d.input.tripId,
          booked: false,
          reason: reason ?? 'cancelled',
        })),
      },
    ],
  });
}

/** The same booking by two-phase commit: rooms prepares (and prices), cards prepares that amount. */
export function bookTripTwoPhase(): ReturnType<typeof twoPhaseWorkflow<BookTripInput, BookTripData>> {
  return twoPhaseWorkflow<BookTripInput, BookTripData>({
    type: 'book-trip',
    parseInput: parseBookTripInput,
    initialData: (input) => ({ input }),
    phaseTwoTimeoutMs: 2_000,
    participants: [
      {
        service: 'rooms',
        prepare: { subject: 'rooms.2pc.prepare', step: 'prepare-room' },
        commit: 'rooms.2pc.commit',
        abort: 'rooms.2pc.abort',
        operation: (d) => ({ tripId: d.input.tripId, nights: d.input.nights }),
        onPrepared: (d, result) => ({ ...d, priceCents: (result as RoomBooked).priceCents }),
        prepareRetry: beforePivot,
        prepareTimeoutMs: 2_000,
      },
      {
        service: 'cards',
        prepare: { subject: 'cards.2pc.prepare', step: 'prepare-card' },
        commit: 'cards.2pc.commit',
        abort: 'cards.2pc.abort',
        operation: (d) => ({ amountCents: d.priceCents ?? 0 }),
        prepareRetry: beforePivot,
        prepareTimeoutMs: 2_000,
      },
    ],
    afterCommit: command('trips.settle', 'confirm-trip', (d: BookTripData) => ({
      tripId: d.input.tripId,
      booked: true,
    })),
    afterAbort: command('trips.settle', 'cancel-trip', (d: BookTripData, reason) => ({
      tripId: d.input.tripId,
      booked: false,
      reason: reason ?? 'aborted',
    })),
  });
}

export type BookTripSagaState = SagaState<BookTripData>;
export type BookTripTwoPhaseState = TwoPhaseState<BookTripData>;
