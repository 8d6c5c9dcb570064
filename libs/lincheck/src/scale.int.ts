import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './fixture-files.js';
import { generateHistory, toJsonl } from './generate.js';

// The checker at the scale of a coordinator soak, through the real command (`npm run lincheck`: tsx on
// scripts/lincheck.ts in a child process with a 1 GiB heap): 8 clients, 40,000 operations on 3 keys, a
// third of them of unknown outcome (0.6 of the writes), one history recorded from a linearizable store
// and one with a stale read planted near its end. The full size (185,000 operations) is measured by
// scripts/bench-lincheck.ts, not by a timed test.
const run = promisify(execFile);
const root = repoRoot();

async function lincheck(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--max-old-space-size=1024', '--import', 'tsx', 'scripts/lincheck.ts', '--verbose', file],
      { cwd: root, timeout: 120_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('npm run lincheck on a large coordinator-shaped history', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lincheck-scale-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([false, true])(
    'decides 40,000 operations, a third of unknown outcome (violation planted: %s)',
    async (violation) => {
      const generated = generateHistory({
        seed: 12,
        workload: 'cas',
        clients: 8,
        operations: 40_000,
        keys: 3,
        unknownFraction: 0.6,
        violation,
      });
      const unknown = generated.operations.filter((op) => op.return === null).length;
      expect(unknown / generated.operations.length).toBeGreaterThan(0.3);
      const file = join(dir, `history-${violation}.jsonl`);
      await writeFile(file, toJsonl(generated.operations));
      const { code, stdout, stderr } = await lincheck(file);
      if (!violation) {
        expect({ code, stdout }).toEqual({ code: 0, stdout: `${file}: linearizable\n` });
        return;
      }
      expect({ code, stdout }).toEqual({ code: 1, stdout: `${file}: not linearizable\n` });
      // The planted read is the one named.
      const planted = generated.violation;
      expect(planted).toBeDefined();
      expect(stderr).toContain(`key ${JSON.stringify(planted?.key)}`);
      const named = stderr
        .split('\n')
        .filter((line) => line.includes('cannot place '))
        .map((line) => JSON.parse(line.slice(line.indexOf('cannot place ') + 13)) as unknown);
      expect(named).toEqual([planted]);
    },
  );
});
