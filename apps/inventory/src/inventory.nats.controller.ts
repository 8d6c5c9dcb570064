import { RpcErrorsFilter } from '@concord/platform';
import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { type RequestOf, type ReplyOf, SUBJECTS } from '@concord/contracts';
import { InventoryCommands } from './inventory.commands.js';

/** Saga and 2PC commands from the orchestrator, one queue group per service (one instance handles each). */
@UseFilters(RpcErrorsFilter)
@Controller()
export class InventoryNatsController {
  constructor(private readonly commands: InventoryCommands) {}

  @MessagePattern(SUBJECTS.inventoryReserve)
  reserve(@Payload() env: RequestOf<'inventory.reserve'>): Promise<ReplyOf<'inventory.reserve'>> {
    return this.commands.reserve(env);
  }

  @MessagePattern(SUBJECTS.inventoryRelease)
  release(@Payload() env: RequestOf<'inventory.release'>): Promise<ReplyOf<'inventory.release'>> {
    return this.commands.release(env);
  }

  @MessagePattern(SUBJECTS.inventoryCommit)
  commit(@Payload() env: RequestOf<'inventory.commit'>): Promise<ReplyOf<'inventory.commit'>> {
    return this.commands.commit(env);
  }

  @MessagePattern(SUBJECTS.inventoryPrepare)
  prepare(@Payload() env: RequestOf<'inventory.2pc.prepare'>): Promise<ReplyOf<'inventory.2pc.prepare'>> {
    return this.commands.prepare(env);
  }

  @MessagePattern(SUBJECTS.inventoryCommitPrepared)
  commitPrepared(
    @Payload() env: RequestOf<'inventory.2pc.commit'>,
  ): Promise<ReplyOf<'inventory.2pc.commit'>> {
    return this.commands.commitPrepared(env);
  }

  @MessagePattern(SUBJECTS.inventoryAbortPrepared)
  abortPrepared(@Payload() env: RequestOf<'inventory.2pc.abort'>): Promise<ReplyOf<'inventory.2pc.abort'>> {
    return this.commands.abortPrepared(env);
  }
}
