import { type DynamicModule, Module } from '@nestjs/common';
import { InboxPruning } from './inbox-pruning.js';
import { InDoubtRecovery } from './in-doubt-recovery.js';
import { Participant, PARTICIPANT_OPTIONS, type ParticipantOptions } from './participant.js';

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
