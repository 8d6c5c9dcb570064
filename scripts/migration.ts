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
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  DATABASE_OPTIONS,
  DatabaseModule,
  type DatabaseOptions,
  generateInternalTokenKeyPair,
  loadConfig,
  runMigrationsExclusively,
} from '@concord/platform';
import type { DynamicModule, Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { z } from 'zod';
import { runningStack } from './dev/stack-env.js';

const ROOT = path.resolve(import.meta.dirname, '..');

const fail = (message: string): never => {
  process.stderr.write(`migration: ${message}\n`);
  process.exit(1);
};

const [command, service, name] = process.argv.slice(2);
if (command !== 'generate' && command !== 'run' && command !== 'revert') {
  fail('usage: npm run migration:generate|run|revert -- <service> [Name]');
}
if (
  service === undefined ||
  !/^[a-z][a-z0-9-]*$/.test(service) ||
  !existsSync(path.join(ROOT, 'apps', service))
) {
  fail(`name a service in apps/ (got ${String(service)})`);
}
const app = service as string;
let url: string;
try {
  url = runningStack(ROOT, process.env).databaseUrl(app);
} catch (error) {
  url = fail((error as Error).message);
}

/**
 * The service's entities and migrations, exactly as it migrates at start-up: its module (`<Name>Module.register`,
 * convention of every app and of the new:service template) built from its own configuration schema, and the
 * options of the DatabaseModule it imports.
 */
async function schemaOf(service: string, databaseUrl: string): Promise<DatabaseOptions> {
  const camel = service.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
  const pascal = camel.charAt(0).toUpperCase() + camel.slice(1);
  const moduleFile = path.join(ROOT, 'apps', service, 'src', `${service}.module.ts`);
  const configFile = path.join(ROOT, 'apps', service, 'src', 'config.ts');
  if (!existsSync(moduleFile) || !existsSync(configFile))
    fail(`apps/${service} has no ${service}.module.ts or config.ts`);
  const { [`${camel}ConfigSchema`]: schema } = (await import(configFile)) as Record<
    string,
    z.ZodObject | undefined
  >;
  const { [`${pascal}Module`]: moduleClass } = (await import(moduleFile)) as Record<
    string,
    { register?: (config: unknown) => DynamicModule } | undefined
  >;
  if (schema === undefined || moduleClass?.register === undefined) {
    fail(`apps/${service} does not export ${camel}ConfigSchema and ${pascal}Module.register`);
  }
  if (!('DATABASE_URL' in (schema as z.ZodObject).shape))
    fail(`apps/${service} has no database (no DATABASE_URL)`);
  // Only the database matters here; the other required settings get harmless placeholders.
  const config = loadConfig(schema as z.ZodObject, {
    DATABASE_URL: databaseUrl,
    NATS_URL: 'nats://127.0.0.1:4222',
    INTERNAL_TOKEN_PUBLIC_KEY: generateInternalTokenKeyPair().publicKeyPem,
  });
  const pending: unknown[] = [(moduleClass?.register as (config: unknown) => DynamicModule)(config)];
  while (pending.length > 0) {
    const next = pending.pop() as DynamicModule | undefined;
    if (next === undefined || typeof next !== 'object') continue;
    if (next.module === DatabaseModule) {
      const provider = (next.providers ?? []).find(
        (p: Provider) => typeof p === 'object' && 'provide' in p && p.provide === DATABASE_OPTIONS,
      ) as { useValue: DatabaseOptions } | undefined;
      if (provider !== undefined) return provider.useValue;
    }
    pending.push(...(next.imports ?? []));
  }
  return fail(`apps/${service} has no database (its module imports no DatabaseModule)`);
}

const schema = await schemaOf(app, url);
const dataSource = new DataSource({
  type: 'postgres',
  url,
  entities: schema.entities,
  migrations: schema.migrations,
  logging: ['error'],
});
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
      const file = path.join(ROOT, 'apps', app, 'src/migrations', `${timestamp}-${kebab}.ts`);
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
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(
        file,
        `import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Generated by \`npm run migration:generate -- ${app} ${name}\`: review before committing. */
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
