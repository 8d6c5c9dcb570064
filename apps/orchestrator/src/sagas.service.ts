import { Injectable } from '@nestjs/common';
import { ProblemException } from '@concord/platform';
import {
  InvalidInputError,
  NotLeaderError,
  SagaLog,
  SagaRuntime,
  UnknownWorkflowError,
  type InstanceRecord,
  type StepRecord,
} from '@concord/saga';
import {
  describeIssues,
  schemas,
  type Decision,
  type DecisionQuery,
  type Reply,
  type StartTransaction,
  type TransactionStarted,
} from '@concord/contracts';

export interface InstanceView {
  readonly id: string;
  readonly transactionId: string;
  readonly type: string;
  readonly mode: 'saga' | '2pc';
  readonly status: string;
  readonly reason?: string;
  readonly idempotencyKey: string | null;
  readonly input: unknown;
  readonly fencingToken: number;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly steps?: readonly StepRecord[];
}

function view(instance: InstanceRecord, steps?: readonly StepRecord[]): InstanceView {
  return {
    id: instance.id,
    transactionId: instance.id,
    type: instance.type,
    mode: instance.mode,
    status: instance.status,
    ...(instance.reason === null ? {} : { reason: instance.reason }),
    idempotencyKey: instance.idempotencyKey,
    input: instance.input,
    fencingToken: instance.fencingToken,
    version: instance.version,
    createdAt: instance.createdAt,
    updatedAt: instance.updatedAt,
    ...(steps === undefined ? {} : { steps }),
  };
}

const statuses = [
  'running',
  'compensating',
  'completed',
  'compensated',
  'preparing',
  'committing',
  'aborting',
  'committed',
  'aborted',
  'failed',
];

/** What the HTTP and NATS controllers share: start, read, list, decide. */
@Injectable()
export class SagasService {
  constructor(
    private readonly runtime: SagaRuntime,
    private readonly log: SagaLog,
  ) {}

  /** Starts an instance; `created` tells a first start (202) from a repeat (200). */
  async start(
    type: string,
    mode: 'saga' | '2pc',
    input: unknown,
    idempotencyKey: string,
  ): Promise<{ created: boolean; instance: InstanceView }> {
    try {
      const outcome = await this.runtime.start(type, mode, input, idempotencyKey);
      if (outcome.kind === 'conflict') {
        throw new ProblemException(422, 'this Idempotency-Key was used with a different request', {
          existingId: outcome.instance.id,
        });
      }
      return { created: outcome.kind === 'created', instance: view(outcome.instance) };
    } catch (error) {
      if (error instanceof UnknownWorkflowError) throw new ProblemException(404, error.message);
      if (error instanceof InvalidInputError) throw new ProblemException(400, error.message);
      if (error instanceof NotLeaderError) throw new ProblemException(503, error.message);
      throw error;
    }
  }

  async get(id: string): Promise<InstanceView> {
    const instance = await this.log.find(id);
    if (instance === undefined) throw new ProblemException(404, `no saga or transaction ${id}`);
    return view(instance, await this.log.steps(id));
  }

  async list(
    mode: 'saga' | '2pc',
    status?: string,
    type?: string,
    limit = 100,
  ): Promise<{ items: InstanceView[] }> {
    if (status !== undefined && !statuses.includes(status)) {
      throw new ProblemException(400, `state must be one of ${statuses.join(', ')}`);
    }
    const rows = await this.log.list({ status, type, mode, limit });
    return { items: rows.map((r) => view(r)) };
  }

  /** `orchestrator.start` over NATS: refusals are replies, never exceptions. */
  async startFromMessage(raw: StartTransaction): Promise<Reply<TransactionStarted>> {
    const parsed = schemas.startTransaction.safeParse(raw);
    if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error, '(message)') };
    const message = parsed.data;
    try {
      const { instance } = await this.start(
        message.type,
        message.mode,
        message.input,
        message.idempotencyKey,
      );
      return { ok: true, result: { transactionId: instance.id } };
    } catch (error) {
      if (error instanceof ProblemException && error.getStatus() < 500) {
        return { ok: false, reason: String((error.getResponse() as { detail?: string }).detail) };
      }
      throw error;
    }
  }

  async decision(query: DecisionQuery): Promise<Reply<Decision>> {
    const parsed = schemas.decisionQuery.safeParse(query);
    if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error, '(message)') };
    return this.runtime.decisionFor(parsed.data);
  }
}
