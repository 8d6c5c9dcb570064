#!/usr/bin/env node
// Replays docker/Dockerfile without Docker, so that CI catches an image that cannot build.
//
// Each stage gets its own directory standing for the container's `/`. COPY takes exactly the files the
// Dockerfile names, from the repository (minus what docker/Dockerfile.dockerignore leaves out of the build
// context) or from an earlier stage (--from); RUN executes the stage's `npm ...` commands in WORKDIR, the
// same commands the image runs (cache mounts dropped). RUN lines that change the container's own system
// (chmod, chown, mkdir under /) are listed and skipped: they need root inside an image, not on this machine.
// Last, every app is started from the runtime stage through the image's entrypoint with no configuration:
// each must load all its modules from the production dependencies and stop with its configuration error.
//
// Usage: node .ci/docker-stages.mjs [--keep]    (Node built-ins only: it runs before anything is installed)
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dockerfile = path.join(root, 'docker/Dockerfile');
const keep = process.argv.includes('--keep');

/** Logical instructions: continued lines joined, comments dropped (Docker drops them even inside continuations). */
function instructions(text) {
  const out = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      pending += line.replace(/\\\s*$/, ' ');
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    if (whole !== '') {
      const [keyword = '', ...rest] = whole.split(/\s+/);
      out.push({ keyword: keyword.toUpperCase(), args: rest.join(' ') });
    }
  }
  return out;
}

/** docker/Dockerfile.dockerignore as a predicate on repository-relative paths (Docker's pattern syntax). */
function ignoreMatcher(file) {
  const rules = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      const source = pattern
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) =>
          part === '**/'
            ? '(?:.*/)?'
            : part === '**'
              ? '.*'
              : part === '*'
                ? '[^/]*'
                : part === '?'
                  ? '[^/]'
                  : part.replace(/[.+^${}()|[\]\\]/g, '\\$&'),
        )
        .join('');
      return { negate, regex: new RegExp(`^${source}$`) };
    });
  return (relative) => {
    // A path is out when it, or a directory above it, matches; the last matching rule wins.
    const parts = relative.split('/');
    let ignored = false;
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      for (const rule of rules) if (rule.regex.test(prefix)) ignored = !rule.negate;
    }
    return ignored;
  };
}

function run(command, cwd, env = process.env) {
  process.stdout.write(`  $ ${command}\n`);
  const result = spawnSync('sh', ['-c', command], { cwd, env, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`"${command}" failed in ${cwd} (exit ${result.status})`);
}

const ignored = ignoreMatcher(path.join(root, 'docker/Dockerfile.dockerignore'));
const work = mkdtempSync(path.join(tmpdir(), 'concord-image-'));
const stages = new Map();
let stage;
const skipped = [];

try {
  for (const { keyword, args } of instructions(readFileSync(dockerfile, 'utf8'))) {
    if (keyword === 'FROM') {
      const match = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      const name = match?.[2] ?? String(stages.size);
      const from = stages.get(match?.[1] ?? '');
      const dir = path.join(work, name);
      // A stage built FROM an earlier one starts with its files (here: only its WORKDIR, if any).
      if (from !== undefined) cpSync(from.dir, dir, { recursive: true });
      else mkdirSync(dir, { recursive: true });
      stage = { name, dir, workdir: from?.workdir ?? '/' };
      stages.set(name, stage);
      process.stdout.write(`stage ${name}\n`);
    } else if (stage === undefined) {
      continue; // ARG before the first FROM
    } else if (keyword === 'WORKDIR') {
      stage.workdir = path.posix.resolve(stage.workdir, args);
      mkdirSync(path.join(stage.dir, stage.workdir), { recursive: true });
    } else if (keyword === 'COPY') {
      const words = args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const operands = words.filter((w) => !w.startsWith('--'));
      const destination = operands.at(-1) ?? '.';
      const target = path.join(stage.dir, path.posix.resolve(stage.workdir, destination));
      for (const source of operands.slice(0, -1)) {
        let origin;
        if (from !== undefined) {
          const other = stages.get(from);
          if (other === undefined) throw new Error(`COPY --from=${from}: no such stage`);
          origin = path.join(other.dir, path.posix.resolve(other.workdir, source));
        } else {
          if (ignored(source)) throw new Error(`COPY ${source}: excluded by Dockerfile.dockerignore`);
          origin = path.join(root, source);
        }
        if (!existsSync(origin)) throw new Error(`stage ${stage.name}: COPY ${source}: no such file`);
        const into =
          destination.endsWith('/') || (operands.length > 2 && statSync(origin).isFile())
            ? path.join(target, path.basename(source))
            : target;
        mkdirSync(path.dirname(into), { recursive: true });
        cpSync(origin, into, {
          recursive: true,
          filter: (file) => {
            if (from !== undefined) return true;
            const relative = path.relative(root, file).split(path.sep).join('/');
            return relative === '' || !ignored(relative);
          },
        });
      }
    } else if (keyword === 'RUN') {
      const command = args.replace(/--(mount|network|security)=\S+\s*/g, '').trim();
      if (/^npm\s/.test(command)) run(command, path.join(stage.dir, stage.workdir));
      else skipped.push(`${stage.name}: RUN ${command}`);
    }
  }

  const runtime = stage;
  const appRoot = path.join(runtime.dir, runtime.workdir);
  const entrypoint = path.join(runtime.dir, 'usr/local/bin/concord-entrypoint');
  const apps = readdirSync(path.join(appRoot, 'dist/apps'));
  const expected = readdirSync(path.join(root, 'apps'));
  if (apps.sort().join() !== expected.sort().join())
    throw new Error(`runtime stage has apps [${apps}], the repository [${expected}]`);
  process.stdout.write(`stage ${runtime.name}: every app loads from the production dependencies\n`);
  for (const app of apps) {
    // Only PATH and APP: each app must load every module, then refuse its missing configuration.
    const result = spawnSync('sh', [entrypoint], {
      cwd: appRoot,
      env: { PATH: process.env.PATH, APP: app, NODE_ENV: 'production' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const stderr = result.stderr ?? '';
    if (result.status !== 1 || !stderr.includes(`${app}: invalid configuration`)) {
      throw new Error(`APP=${app}: expected its configuration error, got exit ${result.status}:\n${stderr}`);
    }
    process.stdout.write(`  ${app}: ${stderr.split('\n')[0].slice(0, 100)}...\n`);
  }
  for (const line of skipped) process.stdout.write(`skipped (system change inside the image): ${line}\n`);
  process.stdout.write(`docker stages: OK (${stages.size} stages replayed in ${work})\n`);
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
}
