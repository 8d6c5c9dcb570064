import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * The orchestrator's durable log. Entities describe the tables for TypeORM; the SQL that must be exact
 * (fencing, conditional updates) lives in {@link SagaLog}.
 */

/** One saga or two-phase transaction. `state` is the decider's whole state; `version` sequences changes. */
@Entity({ name: 'saga_instance' })
export class SagaInstanceEntity {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text' })
  type!: string;

  @Column({ type: 'text' })
  mode!: 'saga' | '2pc';

  @Index()
  @Column({ type: 'text' })
  status!: string;

  @Column({ type: 'jsonb' })
  input!: unknown;

  @Column({ type: 'jsonb' })
  state!: unknown;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ name: 'idempotency_key', type: 'text', nullable: true, unique: true })
  idempotencyKey!: string | null;

  /** sha256 of (type, mode, input): the same key with another body is refused. */
  @Column({ name: 'request_hash', type: 'text' })
  requestHash!: string;

  /** Token of the leader that wrote the last change; a change with an older token is refused. */
  @Column({ name: 'fencing_token', type: 'bigint' })
  fencingToken!: string;

  @Column({ type: 'integer' })
  version!: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

/** One command of an instance: written when first sent, completed with its answer. */
@Entity({ name: 'saga_step' })
@Index(['sagaId', 'key'], { unique: true })
export class SagaStepEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'saga_id', type: 'text' })
  sagaId!: string;

  @Column({ type: 'text' })
  key!: string;

  @Column({ type: 'text' })
  step!: string;

  @Column({ type: 'text' })
  subject!: string;

  @Column({ name: 'message_id', type: 'text' })
  messageId!: string;

  /** started | succeeded | refused | gave-up | superseded */
  @Column({ type: 'text' })
  status!: string;

  @Column({ type: 'jsonb', nullable: true })
  reply!: unknown;

  @Column({ type: 'integer' })
  attempts!: number;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt!: Date;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt!: Date | null;
}

/** Transactional outbox of lifecycle events, published to JetStream with `event_id` as `Nats-Msg-Id`. */
@Entity({ name: 'saga_outbox' })
export class SagaOutboxEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'event_id', type: 'text', unique: true })
  eventId!: string;

  @Column({ type: 'text' })
  subject!: string;

  @Column({ type: 'jsonb' })
  payload!: unknown;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'published_at', type: 'timestamptz', nullable: true })
  publishedAt!: Date | null;
}

/** A single row: the highest fencing token any leader has claimed. Writes check it in their transaction. */
@Entity({ name: 'saga_leadership' })
export class SagaLeadershipEntity {
  @PrimaryColumn({ type: 'integer' })
  id!: number;

  @Column({ name: 'fencing_token', type: 'bigint' })
  fencingToken!: string;

  @Column({ type: 'text', nullable: true })
  holder!: string | null;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

export const orchestratorEntities = [
  SagaInstanceEntity,
  SagaStepEntity,
  SagaOutboxEntity,
  SagaLeadershipEntity,
];
