import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { handleHelp, scriptHeader } from './cli-help.js';

const script = path.join(mkdtempSync(path.join(tmpdir(), 'cli-help-')), 'tool.ts');
writeFileSync(
  script,
  '/**\n * `npm run tool`: does one thing.\n *\n * Options: --fast, --seconds N\n */\nexport {};\n',
);

describe('scripts/cli-help', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints the header comment as the usage', () => {
    expect(scriptHeader(script)).toBe('`npm run tool`: does one thing.\n\nOptions: --fast, --seconds N');
  });

  it('exits 0 with the usage on --help, 2 naming an unknown option, and returns on known ones', () => {
    const exit = vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(() => handleHelp(script, ['--help'], ['fast'])).toThrow('exit 0');
    expect(out.mock.calls[0]?.[0]).toContain('does one thing');
    expect(() => handleHelp(script, ['--fast', '--secnds', '3'], ['fast', 'seconds'])).toThrow('exit 2');
    expect(err.mock.calls[0]?.[0]).toContain('unknown option --secnds');
    handleHelp(script, ['--fast', '--seconds=3', '--', 'file'], ['fast', 'seconds']);
    expect(exit).toHaveBeenCalledTimes(2);
  });
});
