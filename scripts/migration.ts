/**
 * `npm run migration:generate|run|revert -- <service> [Name]`: TypeORM migrations of one service's database, on
 * the running stack's PostgreSQL (or DATABASE_URL's server).
 *
 *   npm run migration:run -- orders                 apply pending migrations (as the service does at start-up,
 *                                                   under the same advisory lock)
 *   npm run migration:revert -- orders              undo the last applied migration
 *   npm run migration:generate -- orders AddNotes   write apps/orders/src/migrations/<timestamp>-add-notes.ts with
 *                                                   the SQL that brings the database to the entities
 *
 * A generated migration is a starting point: read it, then add its class to the service's migrations array (the
 * one its module passes to DatabaseModule.forRoot) so that the service runs it at start-up.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runMigrationsExclusively } from '@concord/platform';
import {
  orchestratorEntities,
  orchestratorMigrations,
  participantEntities,
  participantMigrations,
} from '@concord/saga';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { inventoryMigrations } from '../apps/inventory/src/migrations/1767300000000-inventory-schema.js';
import { inventoryEntities } from '../apps/inventory/src/inventory.module.js';
import { ordersMigrations } from '../apps/orders/src/migrations/1767300000000-orders-schema.js';
import { OrderEntity } from '../apps/orders/src/order.entity.js';
import { paymentsMigrations } from '../apps/payments/src/migrations/1767300000000-payments-schema.js';
import { paymentsEntities } from '../apps/payments/src/payments.module.js';
import { runningStack } from './dev/stack-env.js';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Each service's entities and migrations: the same arrays its module gives DatabaseModule.forRoot. */
const SCHEMAS = {
  orders: { entities: [OrderEntity], migrations: ordersMigrations },
  inventory: {
    entities: [...inventoryEntities, ...participantEntities],
    migrations: [...inventoryMigrations, ...participantMigrations],
  },
  payments: {
    entities: [...paymentsEntities, ...participantEntities],
    migrations: [...paymentsMigrations, ...participantMigrations],
  },
  orchestrator: { entities: orchestratorEntities, migrations: orchestratorMigrations },
} satisfies Record<string, Pick<DataSourceOptions, 'entities' | 'migrations'>>;
type Service = keyof typeof SCHEMAS;

const fail = (message: string): never => {
  process.stderr.write(`migration: ${message}\n`);
  process.exit(1);
};

const [command, service, name] = process.argv.slice(2);
if (command !== 'generate' && command !== 'run' && command !== 'revert') {
  fail('usage: npm run migration:generate|run|revert -- <service> [Name]');
}
if (service === undefined || !(service in SCHEMAS)) {
  fail(`name a service with a database: ${Object.keys(SCHEMAS).join(', ')} (got ${String(service)})`);
}
const schema = SCHEMAS[service as Service];
let url: string;
try {
  url = runningStack(ROOT, process.env).databaseUrl(service as string);
} catch (error) {
  url = fail((error as Error).message);
}

const dataSource = new DataSource({ type: 'postgres', url, ...schema, logging: ['error'] });
try {
  await dataSource.initialize();
} catch (error) {
  fail(
    `cannot connect to ${new URL(url).host}: ${(error as Error).message} (is the stack running? npm start)`,
  );
}
try {
  if (command === 'run') {
    const ran = await runMigrationsExclusively(dataSource);
    process.stdout.write(ran.length === 0 ? 'nothing to run\n' : ran.map((m) => `ran ${m.name}\n`).join(''));
  } else if (command === 'revert') {
    await dataSource.undoLastMigration({ transaction: 'all' });
    process.stdout.write('reverted the last migration\n');
  } else {
    if (name === undefined || !/^[A-Z][A-Za-z0-9]*$/.test(name)) fail('give the migration a PascalCase name');
    if (await dataSource.showMigrations()) fail('run the pending migrations first (npm run migration:run)');
    const sql = await dataSource.driver.createSchemaBuilder().log();
    // The schemas are written by hand in SQL migrations (CHECKs, partial indexes, defaults) that the entities do
    // not declare; TypeORM would drop them. Such drops are kept out of up(), listed as comments to review.
    const pairs = sql.upQueries.map((up, i) => ({ up, down: sql.downQueries[i] }));
    const isDrop = (query: string) =>
      /^\s*(DROP INDEX|ALTER TABLE \S+ DROP CONSTRAINT|ALTER TABLE \S+ ALTER COLUMN \S+ DROP DEFAULT)/i.test(
        query,
      );
    const kept = pairs.filter((p) => !isDrop(p.up.query));
    const dropped = pairs.filter((p) => isDrop(p.up.query));
    if (kept.length === 0) {
      process.stdout.write(
        `the database matches the entities: nothing to generate` +
          (dropped.length > 0
            ? ` (${dropped.length} hand-written constraints and indexes left alone)\n`
            : '\n'),
      );
    } else {
      const timestamp = Date.now();
      const className = `${name}${timestamp}`;
      const kebab = (name as string).replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
      const file = path.join(ROOT, 'apps', service as string, 'src/migrations', `${timestamp}-${kebab}.ts`);
      const call = (q: { query: string; parameters?: unknown[] | undefined }) =>
        `await runner.query(${JSON.stringify(q.query)}${q.parameters?.length ? `, ${JSON.stringify(q.parameters)}` : ''});`;
      const up = kept.map((p) => `    ${call(p.up)}`).join('\n');
      const down = [...kept]
        .reverse()
        .flatMap((p) => (p.down === undefined ? [] : [`    ${call(p.down)}`]))
        .join('\n');
      const review =
        dropped.length === 0
          ? ''
          : `\n    // The entities do not declare these (hand-written in an earlier migration); TypeORM would drop them.\n` +
            dropped.map((p) => `    // ${call(p.up)}`).join('\n') +
            '\n';
      writeFileSync(
        file,
        `import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Generated by \`npm run migration:generate -- ${service} ${name}\`: review before committing. */
export class ${className} implements MigrationInterface {
  readonly name = '${className}';

  async up(runner: QueryRunner): Promise<void> {
${up}${review}
  }

  async down(runner: QueryRunner): Promise<void> {
${down}
  }
}
`,
      );
      process.stdout.write(
        `wrote ${path.relative(ROOT, file)} (${kept.length} statements); add ${className} to the ` +
          `service's migrations array, then: npx prettier --write ${path.relative(ROOT, file)}\n`,
      );
    }
  }
} finally {
  await dataSource.destroy();
}
