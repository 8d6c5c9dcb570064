import { existsSync, readFileSync } from 'node:fs';
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

// The repository keeps a copy of the shared fixtures for checkouts that do not sit beside ../shared; where both
// exist they must be the same files, byte for byte.
describe('the repository copy of the fixtures', () => {
  const shared = sharedFixturesDir();
  it.runIf(existsSync(shared))('matches ../shared/fixtures/linearizability exactly', () => {
    const list = (dir: string) =>
      labelledFixtures(dir).map((f) => [f.name, f.linearizable, readFileSync(f.path, 'utf8')]);
    expect(list(vendoredFixturesDir())).toEqual(list(shared));
  });
});
