/**
 * `npm run bench:lincheck [-- --json] [--seed S] [FILE...]`: how long `npm run lincheck` takes on the
 * histories issue #12 sets limits for, each checked by the real command in a fresh process with a 1 GiB
 * heap (`node --max-old-space-size=1024`), timed with /usr/bin/time (wall, user + system CPU, peak RSS):
 * - `cas-185k` / `cas-185k-violation`: 8 clients, 185,000 put/get/compare-and-set operations on 3
 *   keys, a third of them of unknown outcome (libs/lincheck/src/generate.ts, 0.6 of the writes), one
 *   linearizable and one with a stale read planted near the end. Limit: 10 minutes.
 * - `append-50` / `append-50-violation`: 50 clients, ~4,000 lines of Jepsen kv. Limit: 60 s.
 * FILEs (say a soak's kept history) are timed too, with no expected verdict.
 * With `--json` the last line is `{"rows":[{"history","operations","unknown","expected","verdict",
 * "wallS","cpuS","maxRssMb","limitS"}],"loadAverage":[1,5,15]}`. Exit 1 when a verdict is wrong or a
 * limit is missed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateHistory, toJepsenKv, toJsonl } from '../libs/lincheck/src/generate.js';
import { handleHelp } from './cli-help.js';

interface Row {
  history: string;
  operations: number;
  unknown: number;
  expected: 'linearizable' | 'not linearizable' | null;
  verdict: string;
  wallS: number;
  cpuS: number;
  maxRssMb: number;
  limitS: number;
}

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2).filter((a) => a !== '--');
handleHelp(import.meta.filename, args, ['json', 'seed']);
const json = args.includes('--json');
const seedAt = args.indexOf('--seed');
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : 1;
const files = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--seed');
if (!Number.isInteger(seed)) {
  process.stderr.write('usage: bench-lincheck [--json] [--seed S] [FILE...]\n');
  process.exit(2);
}
const time = '/usr/bin/time';
if (!existsSync(time)) {
  process.stderr.write('bench-lincheck: needs /usr/bin/time (Debian package "time")\n');
  process.exit(2);
}

function check(file: string): Omit<Row, 'history' | 'operations' | 'unknown' | 'expected' | 'limitS'> {
  const marker = 'BENCH ';
  const result = spawnSync(
    time,
    [
      '-f',
      `${marker}%e %U %S %M`,
      process.execPath,
      '--max-old-space-size=1024',
      '--import',
      'tsx',
      'scripts/lincheck.ts',
      file,
    ],
    { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const line = result.stderr.split('\n').find((l) => l.startsWith(marker)) ?? '';
  const [wall, user, system, rssKb] = line.slice(marker.length).split(' ').map(Number);
  const verdict = result.stdout.includes(': not linearizable')
    ? 'not linearizable'
    : result.stdout.includes(': linearizable')
      ? 'linearizable'
      : `failed (exit ${result.status}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`;
  return {
    verdict,
    wallS: wall ?? NaN,
    cpuS: Math.round(((user ?? NaN) + (system ?? NaN)) * 100) / 100,
    maxRssMb: Math.round((rssKb ?? NaN) / 1024),
  };
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-lincheck-'));
const rows: Row[] = [];
try {
  const cases = [
    { name: 'cas-185k', workload: 'cas', violation: false },
    { name: 'cas-185k-violation', workload: 'cas', violation: true },
    { name: 'append-50', workload: 'append', violation: false },
    { name: 'append-50-violation', workload: 'append', violation: true },
  ] as const;
  for (const c of cases) {
    const cas = c.workload === 'cas';
    const generated = generateHistory({
      seed,
      workload: c.workload,
      clients: cas ? 8 : 50,
      operations: cas ? 185_000 : 2_000,
      keys: cas ? 3 : 10,
      unknownFraction: cas ? 0.6 : 0,
      violation: c.violation,
    });
    const file = path.join(dir, `${c.name}.${cas ? 'jsonl' : 'edn'}`);
    await writeFile(file, cas ? toJsonl(generated.operations) : toJepsenKv(generated.operations, 50));
    const expected = c.violation && generated.violation !== undefined ? 'not linearizable' : 'linearizable';
    rows.push({
      history: c.name,
      operations: generated.operations.length,
      unknown: generated.operations.filter((op) => op.return === null).length,
      expected,
      ...check(file),
      limitS: cas ? 600 : 60,
    });
    if (!json) process.stdout.write(`${JSON.stringify(rows[rows.length - 1])}\n`);
  }
  for (const file of files) {
    const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
    rows.push({
      history: path.basename(file),
      operations: lines.length,
      unknown: lines.filter((l) => l.includes('"return":null')).length,
      expected: null,
      ...check(path.resolve(file)),
      limitS: 600,
    });
    if (!json) process.stdout.write(`${JSON.stringify(rows[rows.length - 1])}\n`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const loadAverage = os.loadavg().map((l) => Math.round(l * 100) / 100);
process.stdout.write(`${JSON.stringify(json ? { rows, loadAverage } : { loadAverage })}\n`);
const bad = rows.filter((r) => (r.expected !== null && r.verdict !== r.expected) || !(r.wallS <= r.limitS));
process.exitCode = bad.length === 0 ? 0 : 1;
