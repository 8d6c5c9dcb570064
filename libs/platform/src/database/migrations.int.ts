import { startPostgres, type PostgresHandle } from '@concord/infra';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DataSource, type MigrationInterface, type QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReadinessRegistry } from '../health/readiness.js';
import { DatabaseModule } from './database.module.js';
import { runMigrationsExclusively } from './migrations.js';

/**
 * A migration shaped like the one that raced on `npm run stack` (a table, so a row in pg_type), slowed down so
 * that two instances starting together are certainly both inside it at once without the lock.
 */
class SlowSchema1700000000000 implements MigrationInterface {
  readonly name = 'SlowSchema1700000000000';
  async up(runner: QueryRunner): Promise<void> {
    await runner.query('CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL)');
    await runner.query('SELECT pg_sleep(0.5)');
  }
  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE widgets');
  }
}

/** What the platform module gives every app; here the only thing DatabaseModule needs from it. */
@Global()
@Module({ providers: [ReadinessRegistry], exports: [ReadinessRegistry] })
class ReadinessOnly {}

describe('migrations on an empty database, two instances at once', () => {
  let server: PostgresHandle;

  beforeAll(async () => {
    server = await startPostgres({ databases: ['unlocked', 'locked', 'nest'] });
  });

  afterAll(async () => {
    await server?.stop();
  });

  const dataSource = (database: string) =>
    new DataSource({ type: 'postgres', url: server.url(database), migrations: [SlowSchema1700000000000] });

  const appliedMigrations = async (database: string): Promise<string[]> => {
    const probe = await dataSource(database).initialize();
    try {
      const rows = await probe.query<{ name: string }[]>('SELECT name FROM migrations');
      return rows.map((r) => r.name);
    } finally {
      await probe.destroy();
    }
  };

  it('races without the lock: one instance fails (the failure the lock prevents)', async () => {
    const [a, b] = await Promise.all([
      dataSource('unlocked').initialize(),
      dataSource('unlocked').initialize(),
    ]);
    try {
      const results = await Promise.allSettled([a.runMigrations(), b.runMigrations()]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
  });

  it('with the advisory lock exactly one migrates, the other waits and finds nothing to do', async () => {
    const [a, b] = await Promise.all([dataSource('locked').initialize(), dataSource('locked').initialize()]);
    try {
      const [ranA, ranB] = await Promise.all([runMigrationsExclusively(a), runMigrationsExclusively(b)]);
      expect([ranA.length, ranB.length].sort()).toEqual([0, 1]);
      expect(await appliedMigrations('locked')).toEqual(['SlowSchema1700000000000']);
      // The lock is released: a third run takes it at once and has nothing to do.
      expect(await runMigrationsExclusively(a)).toEqual([]);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
  });

  // The @nestjs/testing example: DatabaseModule alone, in two application contexts started at the same time.
  it('DatabaseModule, tested in isolation: two app instances start together and both come up', async () => {
    const boot = () =>
      Test.createTestingModule({
        imports: [
          ReadinessOnly,
          DatabaseModule.forRoot({
            url: server.url('nest'),
            entities: [],
            migrations: [SlowSchema1700000000000],
          }),
        ],
      }).compile();
    const [one, two] = await Promise.all([boot(), boot()]);
    try {
      await Promise.all([one.init(), two.init()]);
      for (const app of [one, two]) {
        await expect(app.get(ReadinessRegistry).report()).resolves.toMatchObject({ status: 'ready' });
        const widgets = await app
          .get(DataSource)
          .query<{ n: number }[]>('SELECT count(*)::int AS n FROM widgets');
        expect(widgets).toEqual([{ n: 0 }]);
      }
      expect(await appliedMigrations('nest')).toEqual(['SlowSchema1700000000000']);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});
