import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { z } from 'zod';
import type { CommandEnvelope, Decide, Prepare, Reply } from '@concord/contracts';
import { Clock, LruCache } from '@concord/platform';
import { Participant } from '../participant.js';

/** Names what the work changed (e.g. cache keys), for the after-commit hook. */
export type Touch = (...keys: string[]) => void;
type Work<P, R> = (em: EntityManager, payload: P, touch: Touch) => Promise<Reply<R>>;

/**
 * How one subject is handled. Every kind runs through the participant kit (inbox, fence, 2PC); the payload is
 * checked against its schema first, and a malformed command is refused with the reason, never half applied.
 */
export type ParticipantHandler =
  | { readonly kind: 'action'; readonly payload: z.ZodType; readonly run: Work<never, unknown> }
  | {
      readonly kind: 'compensation';
      /** The subject of the action this undoes: the fence both share. */
      readonly undoes: string;
      readonly payload: z.ZodType;
      readonly run: Work<never, null>;
    }
  | { readonly kind: 'prepare'; readonly operation: z.ZodType; readonly run: Work<never, unknown> }
  | { readonly kind: 'commit-prepared' }
  | { readonly kind: 'abort-prepared' };

/** Builders that type each handler's `run` by its schema. */
export const handle = {
  /** A saga action (or a step after the pivot): fenced by its own subject. */
  action<S extends z.ZodType, R>(payload: S, run: Work<z.infer<S>, R>): ParticipantHandler {
    return { kind: 'action', payload, run };
  },
  /** The compensation of the action on subject `undoes`; a no-op (and a marker) if that action never ran. */
  compensation<S extends z.ZodType>(
    undoes: string,
    payload: S,
    run: Work<z.infer<S>, null>,
  ): ParticipantHandler {
    return { kind: 'compensation', undoes, payload, run };
  },
  /** 2PC phase one: the work is prepared (PREPARE TRANSACTION), its touched keys kept until the decision. */
  prepare<S extends z.ZodType, R>(operation: S, run: Work<z.infer<S>, R>): ParticipantHandler {
    return { kind: 'prepare', operation, run };
  },
  commitPrepared(): ParticipantHandler {
    return { kind: 'commit-prepared' };
  },
  abortPrepared(): ParticipantHandler {
    return { kind: 'abort-prepared' };
  },
};

/**
 * A participant service's commands: one handler per subject it listens on, and what to do once a change is
 * committed (a 2PC branch: decided), e.g. invalidate a read cache. Provided by the app under
 * {@link PARTICIPANT_HANDLERS}; the kit registers the NATS handlers for it (see ParticipantModule.forRoot).
 */
export interface ParticipantHandlers {
  readonly handlers: Readonly<Record<string, ParticipantHandler>>;
  /** Runs after the kit's transaction committed with the keys the work touched (none: not called). */
  afterCommit?(keys: readonly string[]): void;
}

export const PARTICIPANT_HANDLERS = Symbol('PARTICIPANT_HANDLERS');

/** The envelope's own fields, checked before the payload (it may carry more, e.g. trace context). */
const envelope = z.object({
  messageId: z.string().min(1).max(200),
  transactionId: z.string().min(1).max(200),
  step: z.string().min(1).max(200),
  fencingToken: z.number().int().min(0).optional(),
  payload: z.unknown(),
});
const decide = z.strictObject({ gid: z.string().min(1).max(200) });

/** How long the keys a prepared branch touched are remembered, to run the hook when it is decided. */
const preparedKeysTtlMs = 15 * 60_000;
const preparedKeysMax = 10_000;

/** A malformed command is refused (with the reason) rather than half applied; the kit is not involved. */
export function parseCommand<S extends z.ZodType>(schema: S, value: unknown): Reply<z.infer<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, result: result.data };
  const detail = result.error.issues
    .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
    .join('; ');
  return { ok: false, reason: `malformed command: ${detail}` };
}

/** Runs a command of the service's table through the kit, then the after-commit hook. */
@Injectable()
export class ParticipantDispatcher {
  private readonly preparedKeys: LruCache<readonly string[]>;

  constructor(
    private readonly participant: Participant,
    @Inject(PARTICIPANT_HANDLERS) private readonly service: ParticipantHandlers,
    clock: Clock,
  ) {
    this.preparedKeys = new LruCache(preparedKeysMax, preparedKeysTtlMs, () => clock.nowMs());
  }

  get subjects(): readonly string[] {
    return Object.keys(this.service.handlers);
  }

  async dispatch(subject: string, raw: unknown): Promise<Reply<unknown>> {
    const handler = this.service.handlers[subject];
    if (handler === undefined) return { ok: false, reason: `no handler for ${subject}` };
    const parsed = parseCommand(envelope, raw);
    if (!parsed.ok) return parsed;
    const env = parsed.result as CommandEnvelope<unknown>;
    const touched: string[] = [];
    const touch: Touch = (...keys) => touched.push(...keys);
    switch (handler.kind) {
      case 'action':
      case 'compensation': {
        const payload = parseCommand(handler.payload, env.payload);
        if (!payload.ok) return payload;
        const reply =
          handler.kind === 'action'
            ? await this.participant.action(env, subject, (em) =>
                handler.run(em, payload.result as never, touch),
              )
            : await this.participant.compensation(env, handler.undoes, (em) =>
                handler.run(em, payload.result as never, touch),
              );
        this.committed(touched);
        return reply;
      }
      case 'prepare': {
        const payload = parseCommand(
          z.strictObject({ gid: decide.shape.gid, operation: handler.operation }),
          env.payload,
        );
        if (!payload.ok) return payload;
        const prepared = { ...env, payload: payload.result } as CommandEnvelope<Prepare<unknown>>;
        const reply = await this.participant.prepare(prepared, (em) =>
          handler.run(em, payload.result.operation as never, touch),
        );
        if (reply.ok && touched.length > 0) this.preparedKeys.set(payload.result.gid, touched);
        return reply;
      }
      case 'commit-prepared':
      case 'abort-prepared': {
        const payload = parseCommand(decide, env.payload);
        if (!payload.ok) return payload;
        const decided = { ...env, payload: payload.result } as CommandEnvelope<Decide>;
        const reply =
          handler.kind === 'commit-prepared'
            ? await this.participant.commitPrepared(decided)
            : await this.participant.abortPrepared(decided);
        const keys = this.preparedKeys.get(payload.result.gid);
        if (keys !== undefined) {
          this.preparedKeys.delete(payload.result.gid);
          this.committed(keys);
        }
        return reply;
      }
    }
  }

  private committed(keys: readonly string[]): void {
    if (keys.length > 0) this.service.afterCommit?.(keys);
  }
}
