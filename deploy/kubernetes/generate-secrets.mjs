#!/usr/bin/env node
// Writes the env files the overlays' secretGenerator reads (overlays/<overlay>/secrets/*.env, mode 0600,
// git-ignored), with fresh random values. Existing files are kept, so re-running never rotates a secret by
// accident. Production reads each service's PostgreSQL URL from the environment:
//   ORDERS_DATABASE_URL=postgres://... INVENTORY_DATABASE_URL=... PAYMENTS_DATABASE_URL=... \
//   ORCHESTRATOR_DATABASE_URL=... node deploy/kubernetes/generate-secrets.mjs production
// Usage: node deploy/kubernetes/generate-secrets.mjs <dev|production> [--dir <kubernetes dir>]
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const services = ['orders', 'inventory', 'payments', 'orchestrator'];
const args = process.argv.slice(2);
const overlay = args[0];
const dirFlag = args.indexOf('--dir');
const root =
  dirFlag >= 0 ? path.resolve(args[dirFlag + 1] ?? '.') : path.dirname(new URL(import.meta.url).pathname);
if (overlay !== 'dev' && overlay !== 'production') {
  process.stderr.write('usage: generate-secrets.mjs <dev|production> [--dir <deploy/kubernetes>]\n');
  process.exit(2);
}
const token = () => randomBytes(32).toString('base64url');
// Hex: safe inside a URL without escaping.
const password = () => randomBytes(24).toString('hex');

const files = {
  'coordinator.env': () => ({ 'cluster-secret': token(), 'client-token': token() }),
  'api.env': () => ({ 'api-token': token() }),
  'gateway.env': () => ({ 'jwt-secret': token(), 'admin-token': token() }),
};
if (overlay === 'dev') {
  const pg = password();
  files['postgres.env'] = () => ({ password: pg });
  files['databases.env'] = () =>
    Object.fromEntries(
      services.map((s) => [`${s}-database-url`, `postgres://concord:${pg}@postgres:5432/${s}`]),
    );
} else {
  files['databases.env'] = () => {
    const missing = services.filter((s) => !process.env[`${s.toUpperCase()}_DATABASE_URL`]);
    if (missing.length > 0) {
      throw new Error(
        `set ${missing.map((s) => `${s.toUpperCase()}_DATABASE_URL`).join(', ')} (one PostgreSQL database per service)`,
      );
    }
    return Object.fromEntries(
      services.map((s) => [`${s}-database-url`, process.env[`${s.toUpperCase()}_DATABASE_URL`]]),
    );
  };
}

const dir = path.join(root, 'overlays', overlay, 'secrets');
mkdirSync(dir, { recursive: true, mode: 0o700 });
try {
  // postgres.env and databases.env share the dev password: write both or neither.
  const fresh = Object.keys(files).filter((f) => !existsSync(path.join(dir, f)));
  if (fresh.includes('postgres.env') !== fresh.includes('databases.env') && overlay === 'dev') {
    throw new Error(
      `${dir}: postgres.env and databases.env must be generated together; delete both to regenerate`,
    );
  }
  for (const file of fresh) {
    const values = files[file]();
    const body =
      Object.entries(values)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n') + '\n';
    writeFileSync(path.join(dir, file), body, { mode: 0o600 });
    process.stdout.write(`wrote ${path.relative(process.cwd(), path.join(dir, file))}\n`);
  }
  if (fresh.length === 0)
    process.stdout.write(`${path.relative(process.cwd(), dir)}: every secret file exists; kept\n`);
} catch (error) {
  process.stderr.write(`generate-secrets: ${error.message}\n`);
  process.exit(1);
}
