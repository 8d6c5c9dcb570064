/**
 * @concord/saga: sagas and two-phase commit.
 * - participant kit (inbox, fence, 2PC prepare/commit/abort, in-doubt recovery) for the domain services;
 * - the workflow-definition API: sagas (compensatable and retriable steps, after-dependencies), two-phase
 *   commit branches, retry policies; pure deciders an app writes its workflows with;
 * - the durable runtime an orchestrator app runs them on.
 * It knows no domain: workflows live in the app that runs them (apps/orchestrator/src/workflows).
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
export {
  ParticipantModule,
  participantService,
  type ParticipantServiceOptions,
} from './participant/participant.module.js';
export {
  handle,
  parseCommand,
  ParticipantDispatcher,
  PARTICIPANT_HANDLERS,
  type ParticipantHandler,
  type ParticipantHandlers,
  type Touch,
} from './participant/service/handlers.js';
export { participantNatsController } from './participant/service/nats.js';
export { ParticipantRepository, selectRows } from './participant/service/sql.js';
export { cursorId, cursorKey, pageOf, pageQuery, type Page } from './participant/service/paging.js';
export {
  InDoubtRecovery,
  recoverInDoubt,
  type DecisionSource,
  type RecoveryPass,
} from './participant/in-doubt-recovery.js';
export { makeGid, parseGid } from './participant/gid.js';
export { rekeyFences, rekeyFencesBack } from './participant/fence-keys.js';
export {
  natsCommandSender,
  muxRequest,
  encodeNestRequest,
  decodeNestReply,
  RemoteCallError,
  type CommandSender,
  type UntypedMessages,
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
  type ReplyIn,
  type RequestIn,
  type ResultOf,
  type Workflow,
  type WorkflowStateBase,
  type WorkflowStatus,
} from './definition/workflow.js';
export {
  command,
  sagaWorkflow,
  typedCommands,
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
