import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { SUBJECTS, type DecisionQuery, type ReplyOf, type StartTransaction } from '@concord/contracts';
import { LeaderRelay } from './leader-relay.js';

/** NATS handlers (queue group "orchestrator"): start a transaction; answer a participant's decision query. */
@Controller()
export class OrchestratorNatsController {
  constructor(private readonly relay: LeaderRelay) {}

  @MessagePattern(SUBJECTS.orchestratorStart)
  async start(@Payload() message: StartTransaction): Promise<ReplyOf<'orchestrator.start'>> {
    return this.relay.start(message);
  }

  @MessagePattern(SUBJECTS.orchestratorDecision)
  async decision(@Payload() query: DecisionQuery): Promise<ReplyOf<'orchestrator.2pc.decision'>> {
    return this.relay.decision(query);
  }
}
