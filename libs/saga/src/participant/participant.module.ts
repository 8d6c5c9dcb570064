import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { Clock } from '@concord/platform';
import { InDoubtRecovery } from './in-doubt-recovery.js';
import { Participant, PARTICIPANT_OPTIONS, type ParticipantOptions } from './participant.js';
import { PARTICIPANT_HANDLERS, ParticipantDispatcher, type ParticipantHandlers } from './service/handlers.js';
import { participantNatsController } from './service/nats.js';

/** The service skeleton: the app's handler table and the subjects it listens on. */
export interface ParticipantServiceOptions extends ParticipantOptions {
  /** The app's handler table (an injectable class); the kit registers a NATS handler per subject for it. */
  readonly handlers: Type<ParticipantHandlers>;
  /** Exactly the keys of the table; needed when the module is built (Nest reads patterns from a class). */
  readonly subjects: readonly string[];
}

/**
 * The participant kit for one service. Needs the app's DatabaseModule (with `participantEntities` and
 * `participantMigrations`) and MessagingModule; provides {@link Participant} and runs in-doubt recovery.
 * `forService` adds the skeleton: the handler table's NATS controller and its dispatcher (parse, kit, after-commit).
 */
@Module({})
export class ParticipantModule {
  static forRoot(options: ParticipantOptions): DynamicModule {
    return {
      module: ParticipantModule,
      providers: [{ provide: PARTICIPANT_OPTIONS, useValue: options }, Participant, InDoubtRecovery],
      exports: [Participant],
    };
  }

  static forService(options: ParticipantServiceOptions): DynamicModule {
    const { handlers, subjects, ...kit } = options;
    const root = ParticipantModule.forRoot(kit);
    return {
      ...root,
      controllers: [participantNatsController(subjects)],
      providers: [
        ...(root.providers ?? []),
        Clock,
        handlers,
        {
          provide: PARTICIPANT_HANDLERS,
          inject: [handlers],
          useFactory: (table: ParticipantHandlers) => {
            const keys = Object.keys(table.handlers).sort();
            if (keys.join() !== [...subjects].sort().join()) {
              throw new Error(
                `${kit.service}: handlers (${keys.join(', ')}) differ from subjects (${subjects.join(', ')})`,
              );
            }
            return table;
          },
        },
        ParticipantDispatcher,
      ],
      exports: [Participant, ParticipantDispatcher, handlers],
    };
  }
}
