import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkHistory, guessFormat, parseHistory } from '@concord/lincheck';
import { labelledFixtures, sharedFixturesDir, vendoredFixturesDir } from './fixture-files.js';

// The checker agrees with the labels of real Jepsen histories (etcd register, multi-key kv): the
// evidence that it is right before it is trusted on the simulator's histories.
describe('Jepsen fixtures', () => {
  const fixtures = labelledFixtures();

  it('finds every fixture: 52 etcd logs and 4 kv histories', () => {
    expect(fixtures.filter((f) => f.name.startsWith('jepsen-etcd/'))).toHaveLength(52);
    expect(fixtures.filter((f) => f.name.startsWith('kv/'))).toHaveLength(4);
    // Both verdicts occur, so a checker that always answers the same cannot pass.
    expect(new Set(fixtures.map((f) => f.linearizable))).toEqual(new Set([true, false]));
  });

  it.each(fixtures)('$name is linearizable: $linearizable', ({ name, path, linearizable }) => {
    const text = readFileSync(path, 'utf8');
    const format = guessFormat(name, text);
    expect(format).toBe(name.startsWith('kv/') ? 'jepsen-kv' : 'jepsen-etcd');
    const result = checkHistory(parseHistory(text, format ?? 'jsonl'));
    expect(result.verdict).toBe(linearizable ? 'linearizable' : 'not-linearizable');
    expect(result.linearizable).toBe(linearizable);
  });
});

// The repository keeps a copy of the shared fixtures for checkouts that do not sit beside ../shared. The copy is
// checked against the checksums recorded when it was taken (SHA256SUMS, every file), and, where ../shared exists
// beside the checkout, against the shared files byte for byte.
describe('the repository copy of the fixtures', () => {
  it('holds exactly the recorded files, and the same files as ../shared/fixtures/linearizability where it exists', () => {
    const vendored = vendoredFixturesDir();
    const recorded = readFileSync(join(vendored, 'SHA256SUMS'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const [sum, file] = line.split(/\s+\.\//);
        return [file!, sum!] as const;
      });
    const files = (dir: string): string[] =>
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => entry.isFile() && entry.name !== 'SHA256SUMS')
        .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
        .sort();
    expect(files(vendored)).toEqual(recorded.map(([file]) => file).sort());
    for (const [file, sum] of recorded) {
      expect(
        createHash('sha256')
          .update(readFileSync(join(vendored, file)))
          .digest('hex'),
        file,
      ).toBe(sum);
    }
    const shared = sharedFixturesDir();
    if (existsSync(shared)) {
      expect(files(shared)).toEqual(files(vendored));
      for (const file of files(shared))
        expect(readFileSync(join(shared, file)).equals(readFileSync(join(vendored, file))), file).toBe(true);
    }
  });
});
