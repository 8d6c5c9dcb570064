import { RpcErrorsFilter } from '@concord/platform';
import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { type RequestOf, type ReplyOf, SUBJECTS } from '@concord/contracts';
import { PaymentsCommands } from './payments.commands.js';

/** Saga and 2PC commands from the orchestrator, one queue group per service (one instance handles each). */
@UseFilters(RpcErrorsFilter)
@Controller()
export class PaymentsNatsController {
  constructor(private readonly commands: PaymentsCommands) {}

  @MessagePattern(SUBJECTS.paymentsHold)
  hold(@Payload() env: RequestOf<'payments.hold'>): Promise<ReplyOf<'payments.hold'>> {
    return this.commands.hold(env);
  }

  @MessagePattern(SUBJECTS.paymentsRelease)
  release(@Payload() env: RequestOf<'payments.release'>): Promise<ReplyOf<'payments.release'>> {
    return this.commands.release(env);
  }

  @MessagePattern(SUBJECTS.paymentsCapture)
  capture(@Payload() env: RequestOf<'payments.capture'>): Promise<ReplyOf<'payments.capture'>> {
    return this.commands.capture(env);
  }

  @MessagePattern(SUBJECTS.paymentsPrepare)
  prepare(@Payload() env: RequestOf<'payments.2pc.prepare'>): Promise<ReplyOf<'payments.2pc.prepare'>> {
    return this.commands.prepare(env);
  }

  @MessagePattern(SUBJECTS.paymentsCommitPrepared)
  commitPrepared(@Payload() env: RequestOf<'payments.2pc.commit'>): Promise<ReplyOf<'payments.2pc.commit'>> {
    return this.commands.commitPrepared(env);
  }

  @MessagePattern(SUBJECTS.paymentsAbortPrepared)
  abortPrepared(@Payload() env: RequestOf<'payments.2pc.abort'>): Promise<ReplyOf<'payments.2pc.abort'>> {
    return this.commands.abortPrepared(env);
  }
}
