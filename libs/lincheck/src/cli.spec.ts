import { describe, expect, it } from 'vitest';
import { lincheckExit, runLincheck } from '@concord/lincheck';

const ok = '{"client": 1, "op": "put", "key": "k", "value": "v", "call": 1, "return": 2, "ok": true}';
const stale = '{"client": 2, "op": "get", "key": "k", "result": null, "call": 3, "return": 4, "ok": true}';
const files: Record<string, string> = {
  'ok.jsonl': ok,
  'bad.jsonl': `${ok}\n${stale}`,
  'broken.jsonl': `${ok}\n\n{"client": 2, "op": "get"`,
  'etcd.txt': 'INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\tnil',
  'mystery.txt': 'hello',
};

function run(...args: string[]): { exit: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const exit = runLincheck(args, {
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`ENOENT: no such file, open '${path}'`);
      return text;
    },
    stdout: (line) => out.push(line),
    stderr: (line) => err.push(line),
  });
  return { exit, out, err };
}

describe('runLincheck', () => {
  it('exits 0 when every file is linearizable', () => {
    expect(run('ok.jsonl', 'etcd.txt')).toEqual({
      exit: lincheckExit.linearizable,
      out: ['ok.jsonl: linearizable', 'etcd.txt: linearizable'],
      err: [],
    });
  });

  it('exits 1 when any file is not, and still reports every file', () => {
    expect(run('bad.jsonl', 'ok.jsonl')).toMatchObject({
      exit: lincheckExit.notLinearizable,
      out: ['bad.jsonl: not linearizable', 'ok.jsonl: linearizable'],
    });
  });

  it('explains a violation on stderr with --verbose', () => {
    const { exit, err } = run('--verbose', 'bad.jsonl');
    expect(exit).toBe(lincheckExit.notLinearizable);
    expect(err.join('\n')).toMatch(/key "k".*\n.*cannot place .*"op":"get"/);
  });

  it('exits 2 on an unparsable line, naming the file and the line', () => {
    const { exit, out, err } = run('ok.jsonl', 'broken.jsonl', 'bad.jsonl');
    expect(exit).toBe(lincheckExit.badInput);
    expect(out).toEqual(['ok.jsonl: linearizable', 'bad.jsonl: not linearizable']);
    expect(err).toEqual([expect.stringMatching(/^broken\.jsonl:3: not JSON/)]);
  });

  it('exits 2 on an unreadable file, an unknown flag, a bad format or no files', () => {
    expect(run('missing.jsonl')).toMatchObject({
      exit: 2,
      err: [expect.stringMatching(/^missing\.jsonl: cannot read/)],
    });
    expect(run('--fast', 'ok.jsonl')).toMatchObject({
      exit: 2,
      err: [expect.stringMatching(/unknown option --fast/)],
    });
    expect(run('--format', 'csv', 'ok.jsonl')).toMatchObject({ exit: 2 });
    expect(run('--format')).toMatchObject({ exit: 2 });
    expect(run()).toMatchObject({ exit: 2, err: [expect.stringMatching(/no files/)] });
    expect(run('mystery.txt')).toMatchObject({
      exit: 2,
      err: [expect.stringMatching(/cannot guess the format/)],
    });
  });

  it('parses as the forced format', () => {
    expect(run('--format', 'jepsen-kv', 'ok.jsonl')).toMatchObject({
      exit: 2,
      err: [expect.stringMatching(/^ok\.jsonl:1: .*\(as jepsen-kv\)/)],
    });
    expect(run('--format=jsonl', 'ok.jsonl')).toMatchObject({ exit: 0 });
    expect(run('--', '--format')).toMatchObject({
      exit: 2,
      err: [expect.stringMatching(/^--format: cannot read/)],
    });
  });
});
