import { type DynamicModule, Injectable, Module, type OnModuleInit, Optional } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type MixedList, type EntitySchema } from 'typeorm';
import { Gauge } from 'prom-client';
import { ReadinessRegistry } from '../health/readiness.js';
import { Metrics } from '../metrics/metrics.js';
import { runMigrationsExclusively } from './migrations.js';

/** The options a DatabaseModule was built with, for tools (`npm run migration:*`) that need the same schema. */
export const DATABASE_OPTIONS = Symbol('DATABASE_OPTIONS');

export interface DatabaseOptions {
  readonly url: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  readonly entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  readonly migrations: MixedList<Function | string>;
  /** Pool size per instance. */
  readonly poolSize?: number;
}

/**
 * Migrates before any other module starts (Nest runs a module's hooks before those of the modules importing it),
 * under an advisory lock so that of several instances starting at once exactly one migrates.
 */
@Injectable()
class DatabaseMigrations implements OnModuleInit {
  constructor(private readonly dataSource: DataSource) {}

  async onModuleInit(): Promise<void> {
    await runMigrationsExclusively(this.dataSource);
  }
}

@Injectable()
class DatabaseReadiness implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    private readonly readiness: ReadinessRegistry,
  ) {}

  onModuleInit(): void {
    this.readiness.register({
      name: 'postgres',
      check: async () => {
        await this.dataSource.query('SELECT 1');
      },
    });
  }
}

/**
 * Prepared (two-phase) transactions waiting in this app's database, read when scraped: a prepared transaction
 * holds its row locks until the coordinator decides, so its age is what an operator alerts on.
 */
@Injectable()
class PreparedTransactionsMetric implements OnModuleInit {
  constructor(
    private readonly dataSource: DataSource,
    // Absent when the module is used alone (a @nestjs/testing module without the platform): no metric then.
    @Optional() private readonly metrics?: Metrics,
  ) {}

  onModuleInit(): void {
    if (this.metrics === undefined) return;
    const dataSource = this.dataSource;
    const query = `SELECT count(*)::int AS n,
                          COALESCE(EXTRACT(EPOCH FROM now() - min(prepared)), 0)::float8 AS oldest
                     FROM pg_prepared_xacts WHERE database = current_database()`;
    type Row = { n: number; oldest: number } | undefined;
    // Both gauges are collected together on a scrape: they share one query in flight rather than asking twice.
    let inFlight: Promise<Row> | undefined;
    const read = (): Promise<Row> =>
      (inFlight ??= dataSource
        .query(query)
        .then((rows: { n: number; oldest: number }[]) => rows[0])
        .catch(() => undefined)
        .finally(() => (inFlight = undefined)));
    const registers = [this.metrics.registry];
    new Gauge({
      name: 'participant_prepared_transactions',
      help: 'Prepared (2PC) transactions waiting for a decision in this database.',
      registers,
      async collect() {
        const row = await read();
        if (row !== undefined) this.set(row.n);
      },
    });
    new Gauge({
      name: 'participant_prepared_transactions_oldest_seconds',
      help: 'Age of the oldest prepared (2PC) transaction in this database (0 when none).',
      registers,
      async collect() {
        const row = await read();
        if (row !== undefined) this.set(row.oldest);
      },
    });
  }
}

/**
 * The app's own PostgreSQL database through TypeORM. Migrations run at start-up under an advisory lock, one
 * instance at a time (never `synchronize`);
 * `SELECT 1` is part of readiness. Only repositories touch the DataSource.
 */
@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseOptions): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: options.url,
          entities: options.entities,
          migrations: options.migrations,
          // Run by DatabaseMigrations under an advisory lock, not by TypeORM at connect (which races).
          migrationsRun: false,
          synchronize: false,
          extra: { max: options.poolSize ?? 10, connectionTimeoutMillis: 5_000 },
          // Start-up waits for the database (it may start at the same time under compose).
          retryAttempts: 30,
          retryDelay: 1_000,
        }),
      ],
      providers: [
        DatabaseMigrations,
        DatabaseReadiness,
        PreparedTransactionsMetric,
        { provide: DATABASE_OPTIONS, useValue: options },
      ],
    };
  }
}
