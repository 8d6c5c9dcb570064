import { type DynamicModule, Module, type Provider, type Type } from '@nestjs/common';
import { InboxPruning } from './inbox-pruning.js';
import { InDoubtRecovery } from './in-doubt-recovery.js';
import { Participant, PARTICIPANT_OPTIONS, type ParticipantOptions } from './participant.js';
import { PARTICIPANT_HANDLERS, ParticipantDispatcher, type ParticipantHandlers } from './service/handlers.js';
import { participantNatsController } from './service/nats.js';

/** The service skeleton: the app's handler table and the subjects it listens on. */
export interface ParticipantServiceOptions {
  /** The app's handler table (an injectable class); the kit registers a NATS handler per subject for it. */
  readonly handlers: Type<ParticipantHandlers>;
  /** Exactly the keys of the table; needed when the module is built (Nest reads patterns from a class). */
  readonly subjects: readonly string[];
}

/**
 * The participant kit for one service. Needs the app's DatabaseModule (with `participantEntities` and
 * `participantMigrations`) and MessagingModule; provides {@link Participant}, runs in-doubt recovery and prunes old inbox and fence rows.
 */
@Module({})
export class ParticipantModule {
  static forRoot(options: ParticipantOptions): DynamicModule {
    return {
      module: ParticipantModule,
      providers: [
        { provide: PARTICIPANT_OPTIONS, useValue: options },
        Participant,
        InDoubtRecovery,
        InboxPruning,
      ],
      exports: [Participant],
    };
  }
}

/**
 * The participant service skeleton, spread into the app's own module (its handler table depends on the app's
 * providers): the handler table, its dispatcher (parse, kit, after-commit) and a NATS controller per subject.
 * Import `ParticipantModule.forRoot({ service })` beside it, and provide a `Clock`.
 */
export function participantService(options: ParticipantServiceOptions): {
  controllers: Array<Type<unknown>>;
  providers: Provider[];
} {
  const { handlers, subjects } = options;
  return {
    controllers: [participantNatsController(subjects)],
    providers: [
      handlers,
      {
        provide: PARTICIPANT_HANDLERS,
        inject: [handlers],
        useFactory: (table: ParticipantHandlers) => {
          const keys = Object.keys(table.handlers).sort();
          if (keys.join() !== [...subjects].sort().join()) {
            throw new Error(`handlers (${keys.join(', ')}) differ from subjects (${subjects.join(', ')})`);
          }
          return table;
        },
      },
      ParticipantDispatcher,
    ],
  };
}
