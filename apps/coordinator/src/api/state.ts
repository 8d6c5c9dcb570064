import { Injectable } from '@nestjs/common';
import { KvStateMachine } from '@concord/coordination';

/** The node's replicated state machine (one per process), injected where reads need it. */
@Injectable()
export class KvStateMachineHolder {
  readonly machine = new KvStateMachine();
}
