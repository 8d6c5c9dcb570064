/**
 * `npm run start:dev -- <app>`: one more instance of an app, in watch mode, joined to the running stack.
 *
 * It builds once, then keeps `tsc --watch` (and the path-alias rewrite) running and restarts the app whenever its
 * compiled output changes. The instance is `<app>-dev` on a free port (or DEV_PORT), uses the stack's PostgreSQL,
 * NATS, coordinators and secrets, and registers in the coordinator like the others: the gateway sends it a share
 * of the traffic, so a change is exercised through the gateway at once. Its log is pretty-printed here.
 * The coordinator is the exception: its three members are fixed by PEERS, so it cannot be added this way.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '@concord/infra';
import { prettyFactory } from 'pino-pretty';
import { runningStack } from './dev/stack-env.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const apps = readdirSync(path.join(ROOT, 'apps')).filter((a) => a !== 'coordinator');
const app = process.argv[2];
const fail = (message: string): never => {
  process.stderr.write(`start:dev: ${message}\n`);
  process.exit(1);
};
if (app === undefined || !apps.includes(app)) {
  fail(
    app === 'coordinator'
      ? 'the coordinator runs as a fixed 3-node cluster (PEERS); restart one of its nodes instead'
      : `usage: npm run start:dev -- <${apps.join('|')}>`,
  );
}
const name = app as string;

let stack: ReturnType<typeof runningStack>;
try {
  stack = runningStack(ROOT, process.env);
} catch (error) {
  stack = fail((error as Error).message);
}
const port = process.env['DEV_PORT'] !== undefined ? Number(process.env['DEV_PORT']) : await freePort();
const env: Record<string, string> = {
  PATH: process.env['PATH'] ?? '',
  PORT: String(port),
  INSTANCE_ID: `${name}-dev`,
  LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info',
  COORDINATOR_URLS: stack.coordinatorUrls,
};
// The same credentials the stack gives the app (docs/security.md): nothing more.
if (name === 'gateway') {
  Object.assign(env, {
    COORDINATOR_TOKEN: stack.secret('coordinator-read-token'),
    JWT_SECRET: stack.secret('gateway-jwt-secret'),
    ADMIN_TOKEN: stack.secret('gateway-admin-token'),
    INTERNAL_TOKEN_PRIVATE_KEY: stack.secret('internal-token-ed25519.pem'),
  });
} else {
  Object.assign(env, {
    COORDINATOR_TOKEN: stack.secret(`coordinator-token-${name}`),
    DATABASE_URL: stack.serviceDatabaseUrl(name),
    NATS_URL: stack.natsUrl,
    NATS_USER: name,
    NATS_PASSWORD: stack.secret(`nats-${name}.password`),
    INTERNAL_TOKEN_PUBLIC_KEY: stack.secret('internal-token-ed25519.pub.pem'),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
  });
}

process.stdout.write(`start:dev: building once...\n`);
if (spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' }).status !== 0)
  fail('build failed');

const children: ChildProcess[] = [];
const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
const tscAlias = path.join(ROOT, 'node_modules/.bin/tsc-alias');
children.push(
  spawn(tsc, ['-p', 'tsconfig.build.json', '--watch', '--preserveWatchOutput'], {
    cwd: ROOT,
    stdio: 'inherit',
  }),
  spawn(tscAlias, ['-p', 'tsconfig.build.json', '--watch'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  }),
);
const instance = spawn(
  process.execPath,
  [
    '--enable-source-maps',
    `--watch-path=${path.join(ROOT, 'dist/apps', name)}`,
    `--watch-path=${path.join(ROOT, 'dist/libs')}`,
    path.join(ROOT, 'dist/apps', name, 'src/main.js'),
  ],
  { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] },
);
children.push(instance);
const pretty = prettyFactory({
  colorize: process.stdout.isTTY,
  translateTime: 'SYS:HH:MM:ss.l',
  messageKey: 'msg',
});
createInterface({ input: instance.stdout }).on('line', (line) => process.stdout.write(pretty(line)));
process.stdout.write(
  `start:dev: ${name}-dev on http://127.0.0.1:${port} (watching apps/${name} and libs/), Ctrl-C stops\n`,
);

const stop = () => {
  for (const child of children) child.kill('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
instance.on('exit', (code, signal) => {
  if (code !== null || signal !== 'SIGTERM')
    process.stdout.write(`start:dev: ${name}-dev exited (${code ?? signal})\n`);
});
