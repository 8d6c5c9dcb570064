import { rekeyFences, rekeyFencesBack } from '@concord/saga';
import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The participant kit keys fences by the subject an action arrived on, no longer by the place-order step name
 * that sent it (the step names moved to apps/orchestrator). Renames the rows written before; see rekeyFences for
 * why in-flight sagas stay correct and how to roll the upgrade out.
 */
export const INVENTORY_FENCE_RENAMES = [
  ['reserve-stock', 'inventory.reserve'],
  ['commit-stock', 'inventory.commit'],
] as const;

export class InventoryFenceKeysBySubject1767600000000 implements MigrationInterface {
  readonly name = 'InventoryFenceKeysBySubject1767600000000';

  async up(runner: QueryRunner): Promise<void> {
    await rekeyFences(runner, INVENTORY_FENCE_RENAMES);
  }

  async down(runner: QueryRunner): Promise<void> {
    await rekeyFencesBack(runner, INVENTORY_FENCE_RENAMES);
  }
}
