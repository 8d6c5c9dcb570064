// Test support (not exported from the barrel): finds the shared Jepsen fixtures and their labels.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LabelledFixture {
  /** Path relative to the fixtures directory, e.g. `kv/c01-ok.txt`. */
  name: string;
  path: string;
  linearizable: boolean;
}

/** The repository root: the nearest ancestor of this file holding package.json and libs/lincheck. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'libs', 'lincheck'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no repository root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** The shared fixtures beside the checkout (/work/main → /work/shared/fixtures/linearizability). */
export function sharedFixturesDir(): string {
  return resolve(repoRoot(), '..', 'shared', 'fixtures', 'linearizability');
}

/** The copy kept in the repository (test/fixtures/linearizability), for checkouts without ../shared. */
export function vendoredFixturesDir(): string {
  return resolve(repoRoot(), 'test', 'fixtures', 'linearizability');
}

/** The shared fixtures when this checkout has them beside it, else the repository's copy of them. */
export function fixturesDir(): string {
  return existsSync(sharedFixturesDir()) ? sharedFixturesDir() : vendoredFixturesDir();
}

/**
 * Every history file under the fixtures directory with its label. Throws when a file has no label or a
 * label has no file, so that a fixture cannot silently drop out of the suite.
 */
export function labelledFixtures(dir: string = fixturesDir()): LabelledFixture[] {
  if (!existsSync(dir)) throw new Error(`linearizability fixtures not found at ${dir}`);
  const fixtures: LabelledFixture[] = [];

  const etcdDir = join(dir, 'jepsen-etcd');
  const labels = new Map<string, boolean>();
  for (const row of readFileSync(join(etcdDir, 'labels.tsv'), 'utf8').split('\n').slice(1)) {
    if (row.trim() === '') continue;
    const [file = '', label = ''] = row.trim().split(/\s+/);
    if (label !== 'true' && label !== 'false')
      throw new Error(`labels.tsv: bad label in ${JSON.stringify(row)}`);
    labels.set(file, label === 'true');
  }
  const logs = readdirSync(etcdDir).filter((file) => file !== 'labels.tsv' && file !== 'README.md');
  for (const file of logs) {
    const label = labels.get(file);
    if (label === undefined) throw new Error(`jepsen-etcd/${file} has no label in labels.tsv`);
    fixtures.push({ name: `jepsen-etcd/${file}`, path: join(etcdDir, file), linearizable: label });
  }
  for (const file of labels.keys()) {
    if (!logs.includes(file)) throw new Error(`labels.tsv names ${file}, which does not exist`);
  }

  const kvDir = join(dir, 'kv');
  for (const file of readdirSync(kvDir)) {
    const label = /-ok\.txt$/.test(file) ? true : /-bad\.txt$/.test(file) ? false : undefined;
    if (label === undefined) throw new Error(`kv/${file} is neither *-ok.txt nor *-bad.txt`);
    fixtures.push({ name: `kv/${file}`, path: join(kvDir, file), linearizable: label });
  }
  return fixtures.sort((a, b) => a.name.localeCompare(b.name));
}
