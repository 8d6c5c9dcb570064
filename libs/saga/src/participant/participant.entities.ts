import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { Reply } from '@concord/contracts';

/** What a participant did with a message; the inbox's `kind` column. */
export type InboxKind = 'action' | 'compensation' | 'prepare';

/**
 * One handled command (Eventuate's received-messages table). Written in the same local transaction as the business
 * change, so "effect applied" and "message recorded" cannot disagree; `reply` is what a duplicate gets again.
 */
@Entity({ name: 'saga_inbox' })
export class InboxMessageEntity {
  @PrimaryColumn({ name: 'message_id', type: 'text' })
  messageId!: string;

  @Column({ name: 'transaction_id', type: 'text' })
  transactionId!: string;

  @Column({ type: 'text' })
  step!: string;

  @Column({ type: 'text' })
  kind!: InboxKind;

  /** NULL only inside the claiming transaction; every committed row has its reply. */
  @Column({ type: 'jsonb', nullable: true })
  reply!: Reply<unknown> | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/**
 * Fence status of one (transaction, step), after Seata's TCC fence:
 * - `tried`: the action (or 2PC prepare) ran and committed;
 * - `compensated`: its compensation ran after it;
 * - `suspended`: the compensation (or 2PC abort) came first; the late action is refused.
 */
export type FenceStatus = 'tried' | 'compensated' | 'suspended';

@Entity({ name: 'saga_fence' })
export class CompensationFenceEntity {
  /** The transaction id; for a 2PC branch, its gid. */
  @PrimaryColumn({ name: 'transaction_id', type: 'text' })
  transactionId!: string;

  /**
   * The fence key: the subject of the action it guards (`rooms.book`), which its compensation names too; `2pc`
   * for a 2PC branch. Never a workflow's step name (see the migration SagaFenceBySubject1767600000000).
   */
  @PrimaryColumn({ type: 'text' })
  step!: string;

  @Column({ type: 'text' })
  status!: FenceStatus;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

/**
 * The reply of a 2PC prepare, written on its own before `PREPARE TRANSACTION`: the inbox row lives inside the
 * prepared transaction and is invisible until COMMIT PREPARED, yet a repeated prepare must answer the same.
 * Deleted once the transaction is decided.
 */
@Entity({ name: 'saga_prepared_reply' })
export class PreparedReplyEntity {
  @PrimaryColumn({ type: 'text' })
  gid!: string;

  @Column({ name: 'message_id', type: 'text' })
  messageId!: string;

  @Column({ type: 'jsonb' })
  reply!: Reply<unknown>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}

export const participantEntities = [InboxMessageEntity, CompensationFenceEntity, PreparedReplyEntity];
