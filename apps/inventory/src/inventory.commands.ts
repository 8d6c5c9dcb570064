import { Injectable } from '@nestjs/common';
import { schemas, type Subject } from '@concord/contracts';
import { handle, type ParticipantHandler, type ParticipantHandlers } from '@concord/saga';
import { InventoryService } from './inventory.service.js';

/** The subjects inventory listens on (queue group "inventory"). */
export const INVENTORY_SUBJECTS = [
  'inventory.reserve',
  'inventory.release',
  'inventory.commit',
  'inventory.2pc.prepare',
  'inventory.2pc.commit',
  'inventory.2pc.abort',
] as const satisfies readonly Subject[];

/**
 * Inventory's saga and 2PC commands, on the participant service skeleton: each payload is checked against the wire
 * schema, then run by the kit (inbox, fence and the business change in one local transaction); the product cache is
 * invalidated for the skus the work touched once the kit has committed (a prepared branch: once it is decided).
 */
@Injectable()
export class InventoryCommands implements ParticipantHandlers {
  readonly handlers: Record<(typeof INVENTORY_SUBJECTS)[number], ParticipantHandler>;

  constructor(private readonly inventory: InventoryService) {
    this.handlers = {
      'inventory.reserve': handle.action(schemas.reserveStock, (em, p, touch) => {
        touch(...p.items.map((line) => line.sku));
        return inventory.reserve(em, p.orderId, p.items);
      }),
      'inventory.release': handle.compensation(
        'inventory.reserve',
        schemas.releaseStock,
        async (em, p, touch) => {
          touch(...(await inventory.release(em, p.orderId)));
          return { ok: true, result: null };
        },
      ),
      'inventory.commit': handle.action(schemas.commitStock, async (em, p, touch) => {
        const outcome = await inventory.commit(em, p.orderId);
        touch(...outcome.skus);
        return outcome.reply;
      }),
      'inventory.2pc.prepare': handle.prepare(schemas.reserveStock, (em, p, touch) => {
        touch(...p.items.map((line) => line.sku));
        return inventory.prepareSale(em, p.orderId, p.items);
      }),
      'inventory.2pc.commit': handle.commitPrepared(),
      'inventory.2pc.abort': handle.abortPrepared(),
    };
  }

  afterCommit(skus: readonly string[]): void {
    this.inventory.invalidate(skus);
  }
}
