/**
 * @concord/saga: sagas and two-phase commit.
 * - participant kit (inbox, fence, 2PC prepare/commit/abort, in-doubt recovery) for the domain services;
 * - saga definitions as code (pure deciders) and the place-order workflows;
 * - the durable runtime used by apps/orchestrator.
 */
export {
  InboxMessageEntity,
  CompensationFenceEntity,
  PreparedReplyEntity,
  participantEntities,
  type FenceStatus,
  type InboxKind,
} from './participant/participant.entities.js';
export { SagaParticipant1767225600000, participantMigrations } from './participant/participant.migration.js';
export {
  Participant,
  PARTICIPANT_OPTIONS,
  StaleFencingTokenError,
  type ParticipantOptions,
} from './participant/participant.js';
export { ParticipantModule } from './participant/participant.module.js';
export {
  InDoubtRecovery,
  recoverInDoubt,
  type DecisionSource,
  type RecoveryPass,
} from './participant/in-doubt-recovery.js';
export { makeGid, parseGid } from './participant/gid.js';
export {
  natsCommandSender,
  encodeNestRequest,
  decodeNestReply,
  RemoteCallError,
  type CommandSender,
} from './transport/nest-nats.js';
export { ReplyMux, ReplyTimeoutError, NoRespondersError } from './transport/reply-mux.js';

// --- definitions (pure deciders) ---------------------------------------------------------------------------
export { RETRY_FOREVER, retryDelayMs, retryExhausted, type RetryPolicy } from './definition/retry.js';
export {
  FINISHED_STATUSES,
  isFinished,
  type CommandSubject,
  type OutboundCommand,
  type PayloadOf,
  type ResultOf,
  type Workflow,
  type WorkflowStateBase,
  type WorkflowStatus,
} from './definition/workflow.js';
export {
  command,
  foldResult,
  sagaWorkflow,
  type CommandSpec,
  type SagaDefinition,
  type SagaState,
  type SagaStep,
} from './definition/saga.js';
export {
  twoPhaseWorkflow,
  type TwoPhaseDefinition,
  type TwoPhaseParticipant,
  type TwoPhaseState,
} from './definition/two-phase.js';
export {
  placeOrderSaga,
  placeOrderTwoPhase,
  parsePlaceOrderInput,
  placeOrderInputSchema,
  PLACE_ORDER_TIMING_DEFAULT,
  type PlaceOrderData,
  type PlaceOrderTiming,
  type PlaceOrderSagaState,
  type PlaceOrderTwoPhaseState,
} from './definition/place-order.js';

// --- runtime (apps/orchestrator) -----------------------------------------------------------------------------
export {
  SagaInstanceEntity,
  SagaStepEntity,
  SagaOutboxEntity,
  SagaLeadershipEntity,
  orchestratorEntities,
} from './runtime/log.entities.js';
export {
  SagaLog1767225700000,
  SagaTraceContext1767600000000,
  orchestratorMigrations,
} from './runtime/log.migration.js';
export {
  SagaLog,
  FencedError,
  StaleVersionError,
  requestHash,
  type CreateOutcome,
  type InstanceRecord,
  type StepRecord,
  type LifecycleEvent,
} from './runtime/saga-log.js';
export {
  SingleInstanceLeadership,
  LEADERSHIP,
  LEADERSHIP_HOLDER,
  type LeadershipPort,
  type LeadershipChange,
} from './runtime/leadership.js';
export {
  CoordinatorLeadership,
  type CoordinatorLeadershipOptions,
} from './runtime/coordinator-leadership.js';
export {
  SagaRuntime,
  UnknownWorkflowError,
  InvalidInputError,
  NotLeaderError,
  type RuntimeOptions,
  type AnyWorkflow,
} from './runtime/saga-runtime.js';
export {
  ensureEventStream,
  publishEvent,
  relayOutbox,
  SAGA_EVENTS_STREAM,
  SAGA_EVENTS_SUBJECTS,
} from './runtime/outbox-relay.js';
export { OrchestratorLifecycle } from './runtime/orchestrator.service.js';
