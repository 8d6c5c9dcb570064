import { RpcErrorsFilter } from '@concord/platform';
import { Controller, Inject, UseFilters, type Type } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { Reply } from '@concord/contracts';
import { ParticipantDispatcher } from './handlers.js';

/**
 * The NATS controller of a participant service: one `@MessagePattern` per subject of its handler table (queue
 * group = the service, so one instance handles each command), each delegating to the dispatcher. Built per
 * service because Nest reads message patterns from a class; the subjects must be known when the module is.
 */
export function participantNatsController(subjects: readonly string[]): Type<unknown> {
  @UseFilters(RpcErrorsFilter)
  @Controller()
  class ParticipantNatsController {
    constructor(@Inject(ParticipantDispatcher) readonly dispatcher: ParticipantDispatcher) {}
  }
  const prototype = ParticipantNatsController.prototype as unknown as Record<string, unknown>;
  subjects.forEach((subject, i) => {
    const name = `handle${i}`;
    prototype[name] = function (this: ParticipantNatsController, env: unknown): Promise<Reply<unknown>> {
      return this.dispatcher.dispatch(subject, env);
    };
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
    if (descriptor === undefined) throw new Error(`handler ${name} vanished`);
    MessagePattern(subject)(prototype, name, descriptor);
    Payload()(prototype, name, 0);
  });
  return ParticipantNatsController;
}
