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
export { Participant, PARTICIPANT_OPTIONS, type ParticipantOptions } from './participant/participant.js';
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
