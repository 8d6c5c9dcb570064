import { describe, expect, it } from 'vitest';
import {
  checkHistory,
  guessFormat,
  HistoryParseError,
  parseJepsenEtcd,
  parseJepsenKv,
  parseJsonl,
  registerKey,
} from '@concord/lincheck';

const lineOf = (run: () => unknown): number | undefined => {
  try {
    run();
  } catch (error) {
    if (error instanceof HistoryParseError) return error.line;
    throw error;
  }
  return undefined;
};

describe('parseJepsenEtcd', () => {
  const log = [
    '2016-04-04 12:00:00,000{GMT}\tINFO\t[jepsen nemesis] jepsen.core - nemesis starts',
    'INFO  jepsen.util - 0\t:invoke\t:read\tnil',
    'INFO  jepsen.util - 1   :invoke :write  3',
    'INFO  jepsen.util - 0\t:ok\t:read\tnil',
    'INFO  jepsen.util - 1   :ok     :write  3',
    'INFO  jepsen.util - 2\t:invoke\t:cas\t[3 4]',
    'INFO  jepsen.util - 2\t:fail\t:cas\t[3 4]',
    'INFO  jepsen.util - 3\t:invoke\t:cas\t[nil 1]',
    'INFO  jepsen.util - 3\t:info\t:cas\t:timed-out',
    'INFO  jepsen.util - 4\t:invoke\t:write\t1',
  ].join('\n');

  it('pairs invocations with completions, tabs or spaces, and ignores other lines', () => {
    const history = parseJepsenEtcd(log);
    expect(history).toMatchObject({ format: 'jepsen-etcd', initialValue: null });
    expect(history.operations).toEqual([
      { client: 0, op: 'get', key: registerKey, call: 2, return: 4, ok: true, result: null },
      { client: 1, op: 'put', key: registerKey, value: '3', call: 3, return: 5, ok: true },
      { client: 2, op: 'cas', key: registerKey, expect: '3', value: '4', call: 6, return: 7, ok: false },
      { client: 3, op: 'cas', key: registerKey, expect: null, value: '1', call: 8, return: null, ok: false },
      { client: 4, op: 'put', key: registerKey, value: '1', call: 10, return: null, ok: false },
    ]);
    // The cas from 3 failed although 3 was written before it was called and nothing else wrote since.
    expect(checkHistory(history).linearizable).toBe(false);
  });

  it('names the line of a malformed operation or an unmatched completion', () => {
    expect(lineOf(() => parseJepsenEtcd('INFO  jepsen.util - 0\t:invoke\t:frob\t1'))).toBe(1);
    expect(lineOf(() => parseJepsenEtcd('\nINFO  jepsen.util - 0\t:invoke\t:cas\t3'))).toBe(2);
    expect(lineOf(() => parseJepsenEtcd('INFO  jepsen.util - 0\t:ok\t:read\t1'))).toBe(1);
    const twice = 'INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:invoke\t:read\tnil';
    expect(lineOf(() => parseJepsenEtcd(twice))).toBe(2);
  });
});

describe('parseJepsenKv', () => {
  it('reads EDN maps, starts keys at the empty string and skips the nemesis', () => {
    const history = parseJepsenKv(
      [
        '{:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}',
        '{:process :nemesis, :type :info, :f :start, :value nil}',
        '{:process 1, :type :invoke, :f :get, :key "0", :value nil}',
        '{:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y"}',
        '',
        '{:process 1, :type :ok, :f :get, :key "0", :value ""}',
      ].join('\n'),
    );
    expect(history).toMatchObject({ format: 'jepsen-kv', initialValue: '' });
    expect(history.operations).toEqual([
      { client: 0, op: 'append', key: '0', value: 'x 0 0 y', call: 1, return: 4, ok: true },
      { client: 1, op: 'get', key: '0', call: 3, return: 6, ok: true, result: '' },
    ]);
    expect(checkHistory(history).linearizable).toBe(true);
  });

  it('names the line it cannot read', () => {
    expect(lineOf(() => parseJepsenKv('\n{:process 0, :type :invoke, :f :get, :key "0"'))).toBe(2);
    expect(lineOf(() => parseJepsenKv('{:process 0, :type :invoke, :f :frob, :key "0", :value nil}'))).toBe(
      1,
    );
    expect(lineOf(() => parseJepsenKv('{:process 0, :type :invoke, :f :put, :key "0", :value nil}'))).toBe(1);
  });
});

describe('parseJsonl', () => {
  it('reads the KvOperation shape, one per line', () => {
    const history = parseJsonl(
      [
        '{"client": 3, "op": "cas", "key": "k", "value": "v", "expect": null, "call": 1.5, "return": 2, "ok": true}',
        '',
        '{"client": 4, "op": "get", "key": "k", "call": 3, "return": null, "ok": false}',
      ].join('\n'),
    );
    expect(history).toMatchObject({ format: 'jsonl', initialValue: null });
    expect(history.operations).toEqual([
      { client: 3, op: 'cas', key: 'k', value: 'v', expect: null, call: 1.5, return: 2, ok: true },
      { client: 4, op: 'get', key: 'k', call: 3, return: null, ok: false },
    ]);
  });

  it('accepts "ok": null or no ok for an unknown outcome, and only for one', () => {
    const history = parseJsonl(
      [
        '{"client": 1, "op": "put", "key": "k", "value": "a", "call": 1, "return": null, "ok": null}',
        '{"client": 2, "op": "cas", "key": "k", "value": "b", "expect": "a", "call": 2, "return": null}',
        '{"client": 3, "op": "get", "key": "k", "call": 3, "return": 4, "ok": true, "result": "b"}',
      ].join('\n'),
    );
    expect(history.operations.map((op) => [op.return, op.ok])).toEqual([
      [null, false],
      [null, false],
      [4, true],
    ]);
    expect(checkHistory(history).linearizable).toBe(true);
    const completed = '{"client": 1, "op": "put", "key": "k", "value": "a", "call": 1, "return": 2';
    expect(lineOf(() => parseJsonl(`${completed}, "ok": null}`))).toBe(1);
    expect(lineOf(() => parseJsonl(`${completed}}`))).toBe(1);
    expect(lineOf(() => parseJsonl(`${completed.replace('"return": 2', '"return": null')}, "ok": 1}`))).toBe(
      1,
    );
  });

  it('names the line of bad JSON, a missing field or an impossible interval', () => {
    const good = '{"client": 1, "op": "put", "key": "k", "value": "v", "call": 1, "return": 2, "ok": true}';
    expect(lineOf(() => parseJsonl(`${good}\n{"client": 1,`))).toBe(2);
    expect(lineOf(() => parseJsonl(`${good}\n${good}\n${good.replace('"op": "put", ', '')}`))).toBe(3);
    expect(lineOf(() => parseJsonl(good.replace('"return": 2', '"return": 0')))).toBe(1);
    expect(lineOf(() => parseJsonl(good.replace('"value": "v", ', '')))).toBe(1);
  });
});

describe('guessFormat', () => {
  it('reads the content first, then the file name', () => {
    expect(guessFormat('h.txt', '\n{"client": 1}')).toBe('jsonl');
    expect(guessFormat('h.txt', '{:process 0}')).toBe('jepsen-kv');
    expect(guessFormat('h.txt', 'set-up\nINFO  jepsen.util - 0 :invoke :read nil')).toBe('jepsen-etcd');
    expect(guessFormat('h.jsonl', '')).toBe('jsonl');
    expect(guessFormat('h.edn', '')).toBe('jepsen-kv');
    expect(guessFormat('h.log', 'nothing')).toBe('jepsen-etcd');
    expect(guessFormat('h.txt', 'nothing')).toBeUndefined();
  });
});
