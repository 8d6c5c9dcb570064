import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesDir, repoRoot } from './fixture-files.js';

// The real command, as `npm run lincheck` runs it: tsx on scripts/lincheck.ts, in a child process.
const run = promisify(execFile);
const root = repoRoot();
const fixtures = fixturesDir();

async function lincheck(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      join(root, 'node_modules', '.bin', 'tsx'),
      ['scripts/lincheck.ts', ...args],
      {
        cwd: root,
        timeout: 60_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('scripts/lincheck.ts', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lincheck-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits 0 and says so for linearizable files', async () => {
    const files = [join(fixtures, 'kv', 'c01-ok.txt'), join(fixtures, 'jepsen-etcd', 'etcd_002.log')];
    const { code, stdout } = await lincheck(...files);
    expect(stdout).toBe(files.map((file) => `${file}: linearizable\n`).join(''));
    expect(code).toBe(0);
  });

  it('exits 1 when a file is not linearizable', async () => {
    const bad = join(fixtures, 'kv', 'c01-bad.txt');
    const { code, stdout } = await lincheck('--format', 'jepsen-kv', bad);
    expect(stdout).toBe(`${bad}: not linearizable\n`);
    expect(code).toBe(1);
  });

  it('exits 2 with the file and line on stderr for an unparsable line', async () => {
    const broken = join(dir, 'broken.jsonl');
    await writeFile(
      broken,
      '{"client": 1, "op": "get", "key": "k", "call": 1, "return": 2, "ok": true, "result": null}\nnot json\n',
    );
    const { code, stderr } = await lincheck(broken);
    expect(stderr).toMatch(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: not JSON`));
    expect(code).toBe(2);
  });
});
