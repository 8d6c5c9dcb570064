import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/**
 * What every participant service's repository needs: transactions, the shared manager and typed raw SQL. A
 * service's repository extends it and adds its own statements (only repositories touch the database). The bound on
 * row-lock waits is the kit's `workLockTimeoutMs`, set once per connection, not a statement per transaction.
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
