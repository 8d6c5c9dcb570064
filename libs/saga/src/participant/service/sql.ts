import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/** Longest wait for a row lock inside a business transaction. */
const lockWaitMaxMs = 1_000;

/**
 * What every participant service's repository needs: transactions, the shared manager, typed raw SQL and a bounded
 * lock wait. A service's repository extends it and adds its own statements (only repositories touch the database).
 */
// Decorated so that its constructor's parameter types are emitted: a subclass without a constructor of its own
// inherits them (Nest would otherwise inject nothing).
@Injectable()
export abstract class ParticipantRepository {
  constructor(protected readonly dataSource: DataSource) {}

  transaction<T>(work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
  }

  get manager(): EntityManager {
    return this.dataSource.manager;
  }

  /**
   * Bounds how long the rest of this transaction waits for a row lock. A 2PC branch keeps its row locks from
   * PREPARE until COMMIT PREPARED; unbounded waiters behind it would hold every pooled connection, including the
   * one the decision needs. A waiter that times out fails (the caller retries) and gives its connection back.
   */
  async boundLockWait(em: EntityManager): Promise<void> {
    await em.query(`SET LOCAL lock_timeout = '${lockWaitMaxMs}ms'`);
  }
}

/** Raw SQL with typed rows (`EntityManager.query` is typed `any`; rows are typed once, here). */
export async function selectRows<T>(
  em: EntityManager,
  sql: string,
  parameters: readonly unknown[] = [],
): Promise<T[]> {
  const result: unknown = await em.query(sql, [...parameters]);
  return result as T[];
}
