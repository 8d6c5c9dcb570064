import { Injectable } from '@nestjs/common';
import { schemas, type Reply, type Subject } from '@concord/contracts';
import { handle, type ParticipantHandler, type ParticipantHandlers, type Touch } from '@concord/saga';
import { type Outcome, PaymentsService } from './payments.service.js';

/** The subjects payments listens on (queue group "payments"). */
export const PAYMENTS_SUBJECTS = [
  'payments.hold',
  'payments.release',
  'payments.capture',
  'payments.2pc.prepare',
  'payments.2pc.commit',
  'payments.2pc.abort',
] as const satisfies readonly Subject[];

/** The reply of an outcome, after naming the account it touched. */
async function touching<R>(outcome: Promise<Outcome<R>>, touch: Touch): Promise<Reply<R>> {
  const { reply, customerId } = await outcome;
  if (customerId !== undefined) touch(customerId);
  return reply;
}

/**
 * Payments' saga and 2PC commands, on the participant service skeleton: each payload is checked against the wire
 * schema, then run by the kit (inbox, fence and the business change in one local transaction); the account cache is
 * invalidated once the kit has committed (a prepared branch: once it is decided).
 */
@Injectable()
export class PaymentsCommands implements ParticipantHandlers {
  readonly handlers: Record<(typeof PAYMENTS_SUBJECTS)[number], ParticipantHandler>;

  constructor(private readonly payments: PaymentsService) {
    this.handlers = {
      'payments.hold': handle.action(schemas.holdFunds, (em, p, touch) =>
        touching(payments.hold(em, p.orderId, p.customerId, p.amountCents), touch),
      ),
      'payments.release': handle.compensation('payments.hold', schemas.releaseFunds, (em, p, touch) =>
        touching(payments.release(em, p.orderId), touch),
      ),
      'payments.capture': handle.action(schemas.captureFunds, (em, p, touch) =>
        touching(payments.capture(em, p.orderId), touch),
      ),
      'payments.2pc.prepare': handle.prepare(schemas.holdFunds, async (em, p, touch) => {
        touch(p.customerId);
        return (await payments.prepareCharge(em, p.orderId, p.customerId, p.amountCents)).reply;
      }),
      'payments.2pc.commit': handle.commitPrepared(),
      'payments.2pc.abort': handle.abortPrepared(),
    };
  }

  afterCommit(customerIds: readonly string[]): void {
    this.payments.invalidate(customerIds);
  }
}
