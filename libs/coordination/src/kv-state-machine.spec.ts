import { describe, expect, it } from 'vitest';
import type { Command, WatchEvent } from './commands.js';
import { encodeCommand, KvStateMachine } from './kv-state-machine.js';

function machine() {
  const sm = new KvStateMachine();
  let index = 0;
  const run = (command: Command) =>
    sm.apply({ index: ++index, term: 1, type: 'normal', data: encodeCommand(command) });
  return { sm, run };
}

describe('KvStateMachine: keys and revisions (etcd v3 semantics)', () => {
  it('bumps the global revision on every write and tracks create/mod revision and version', () => {
    const { sm, run } = machine();
    expect(run({ type: 'put', key: 'a', value: '1' })).toMatchObject({ ok: true, revision: 1 });
    expect(run({ type: 'put', key: 'b', value: '1' })).toMatchObject({ ok: true, revision: 2 });
    expect(run({ type: 'put', key: 'a', value: '2' })).toMatchObject({ ok: true, revision: 3 });
    expect(sm.get('a')).toEqual({ key: 'a', value: '2', createRevision: 1, modRevision: 3, version: 2 });
    expect(run({ type: 'delete', key: 'a' })).toMatchObject({ ok: true, revision: 4, deleted: 1 });
    expect(run({ type: 'delete', key: 'a' })).toMatchObject({ ok: true, revision: 4, deleted: 0 });
    expect(run({ type: 'put', key: 'a', value: '3' })).toMatchObject({ revision: 5 });
    expect(sm.get('a')).toMatchObject({ createRevision: 5, version: 1 });
  });

  it('refuses a put whose prevRevision does not match, answering the current modRevision (0 = absent)', () => {
    const { run } = machine();
    expect(run({ type: 'put', key: 'k', value: 'x', prevRevision: 0 })).toMatchObject({
      ok: true,
      revision: 1,
    });
    expect(run({ type: 'put', key: 'k', value: 'y', prevRevision: 0 })).toEqual({
      ok: false,
      error: 'conflict',
      modRevision: 1,
    });
    expect(run({ type: 'put', key: 'k', value: 'y', prevRevision: 1 })).toMatchObject({
      ok: true,
      revision: 2,
    });
    expect(run({ type: 'delete', key: 'k', prevRevision: 1 })).toEqual({
      ok: false,
      error: 'conflict',
      modRevision: 2,
    });
  });

  it('runs a transaction atomically under one revision', () => {
    const { sm, run } = machine();
    run({ type: 'put', key: 'x', value: '1' });
    const result = run({
      type: 'txn',
      compare: [{ key: 'x', target: 'value', op: '=', value: '1' }],
      success: [{ put: { key: 'x', value: '2' } }, { put: { key: 'y', value: '9' } }, { get: { key: 'x' } }],
      failure: [{ get: { key: 'x' } }],
    });
    expect(result).toMatchObject({ ok: true, succeeded: true, revision: 2 });
    expect(sm.get('y')?.modRevision).toBe(2);
    const failed = run({
      type: 'txn',
      compare: [{ key: 'x', target: 'version', op: '>', value: 5 }],
      success: [{ delete: { key: 'x' } }],
      failure: [{ get: { key: 'x' } }],
    });
    expect(failed).toMatchObject({
      ok: true,
      succeeded: false,
      revision: 2,
      responses: [{ get: { value: '2' } }],
    });
  });

  it('compares a missing key as version 0 and createRevision 0', () => {
    const { run } = machine();
    const result = run({
      type: 'txn',
      compare: [{ key: 'none', target: 'createRevision', op: '=', value: 0 }],
      success: [{ put: { key: 'none', value: 'now' } }],
      failure: [],
    });
    expect(result).toMatchObject({ succeeded: true, revision: 1 });
  });

  it('reads a prefix at a past revision, and refuses a compacted one', () => {
    const { sm, run } = machine();
    run({ type: 'put', key: 'p/1', value: 'a' });
    run({ type: 'put', key: 'p/2', value: 'b' });
    run({ type: 'put', key: 'p/1', value: 'c' });
    run({ type: 'delete', key: 'p/2' });
    expect(sm.range('p/', 10)).toMatchObject({ ok: true, items: [{ key: 'p/1', value: 'c' }], revision: 4 });
    expect(sm.range('p/', 10, 2)).toMatchObject({ items: [{ value: 'a' }, { value: 'b' }], revision: 2 });
    expect(sm.range('p/', 1, 2)).toMatchObject({ items: [{ key: 'p/1' }], more: true });
    run({ type: 'compact', revision: 3 });
    expect(sm.range('p/', 10, 2)).toEqual({ ok: false, error: 'compacted', compactRevision: 3 });
    expect(sm.range('p/', 10, 9)).toEqual({ ok: false, error: 'futureRevision', revision: 4 });
  });
});

describe('KvStateMachine: leases', () => {
  it('binds keys to a lease and deletes them, in one revision, when it is revoked or expires', () => {
    const { sm, run } = machine();
    const granted = run({ type: 'leaseGrant', ttlSeconds: 10 });
    const id = (granted as { lease: { id: string } }).lease.id;
    run({ type: 'put', key: 'services/a/1', value: '{}', lease: id });
    run({ type: 'put', key: 'services/a/2', value: '{}', lease: id });
    expect(sm.lease(id)?.keys).toEqual(['services/a/1', 'services/a/2']);
    expect(run({ type: 'leaseExpire', id })).toMatchObject({ ok: true, revision: 3, deleted: 2 });
    expect(sm.get('services/a/1')).toBeUndefined();
    expect(sm.lease(id)).toBeUndefined();
    expect(run({ type: 'leaseRevoke', id })).toEqual({ ok: false, error: 'leaseNotFound', lease: id });
    expect(run({ type: 'put', key: 'z', value: '1', lease: id })).toEqual({
      ok: false,
      error: 'leaseNotFound',
      lease: id,
    });
  });

  it('gives lease ids from a counter, so every node assigns the same ones', () => {
    const a = machine();
    const b = machine();
    for (const m of [a, b]) {
      m.run({ type: 'leaseGrant', ttlSeconds: 5 });
      m.run({ type: 'leaseGrant', ttlSeconds: 5 });
    }
    expect(a.sm.allLeases()).toEqual(b.sm.allLeases());
  });
});

describe('KvStateMachine: watches and snapshots', () => {
  it('emits one batch per revision and replays history from any revision not compacted', () => {
    const { sm, run } = machine();
    const seen: WatchEvent[][] = [];
    sm.onEvents((events) => seen.push([...events]));
    run({ type: 'put', key: 'w/a', value: '1' });
    run({ type: 'put', key: 'other', value: '1' });
    run({ type: 'delete', key: 'w/a' });
    expect(seen.map((batch) => batch.map((e) => `${e.type}:${e.kv.key}@${e.revision}`))).toEqual([
      ['put:w/a@1'],
      ['put:other@2'],
      ['delete:w/a@3'],
    ]);
    const replay = sm.eventsSince(2, (k) => k.startsWith('w/'));
    expect(replay).toMatchObject({ ok: true, events: [{ type: 'delete', revision: 3 }] });
    run({ type: 'compact', revision: 2 });
    expect(sm.eventsSince(2, () => true)).toEqual({ ok: false, compactRevision: 2 });
    expect(sm.eventsSince(3, () => true)).toMatchObject({ ok: true });
  });

  it('restores from a snapshot to an identical state', () => {
    const { sm, run } = machine();
    const lease = (run({ type: 'leaseGrant', ttlSeconds: 3 }) as { lease: { id: string } }).lease.id;
    run({ type: 'put', key: 'a', value: '1', lease });
    run({ type: 'put', key: 'b', value: '2' });
    const copy = new KvStateMachine();
    copy.restore(sm.snapshot());
    expect(copy.snapshot()).toEqual(sm.snapshot());
    expect(copy.lease(lease)?.keys).toEqual(['a']);
    expect(copy.range('', 10)).toEqual(sm.range('', 10));
  });

  it('captures a snapshot now and encodes it later, in slices, to the bytes snapshot() gave at capture', async () => {
    const { sm, run } = machine();
    const lease = (run({ type: 'leaseGrant', ttlSeconds: 3 }) as { lease: { id: string } }).lease.id;
    for (let i = 0; i < 5_000; i++) run({ type: 'put', key: `k${i % 700}`, value: `v${i}`, lease });
    const expected = sm.snapshot();
    const encode = sm.captureSnapshot();
    // What happens after the capture is not in it: writes, deletes, a compaction, a revoked lease.
    for (let i = 0; i < 1_000; i++) run({ type: 'put', key: `k${i}`, value: 'later' });
    run({ type: 'delete', key: 'k1' });
    run({ type: 'compact', revision: 4_000 });
    run({ type: 'leaseRevoke', id: lease });
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    const bytes = await encode();
    clearInterval(counting);
    expect(Buffer.from(bytes).equals(Buffer.from(expected))).toBe(true);
    // 5,000 history events and 700 keys in slices of 2,000 records: the event loop ran in between.
    expect(turns).toBeGreaterThan(0);
    const copy = new KvStateMachine();
    copy.restore(bytes);
    expect(copy.get('k1')?.value).not.toBe('later');
    expect(copy.lease(lease)?.keys.length).toBe(700);
  });

  it('ignores a malformed entry without changing state', () => {
    const { sm } = machine();
    const before = sm.snapshot();
    expect(
      sm.apply({ index: 1, term: 1, type: 'normal', data: new TextEncoder().encode('{nope') }),
    ).toBeNull();
    expect(sm.snapshot()).toEqual(before);
  });

  it('writes each key-value record once: the next event on a key and the key table refer to it by number', () => {
    const { sm, run } = machine();
    const value = 'v'.repeat(1000);
    // 100 puts over 10 keys: 100 records, each also the `prev` of the next put on its key or a current value.
    for (let i = 0; i < 100; i++) run({ type: 'put', key: `k${i % 10}`, value });
    run({ type: 'delete', key: 'k3' });
    const snapshot = sm.snapshot();
    // Written unshared, the 100 values would appear ~200 times (kv and prev) plus 10 in the key table.
    expect(snapshot.byteLength).toBeGreaterThan(100 * 1000);
    expect(snapshot.byteLength).toBeLessThan(120 * 1000);
    const copy = new KvStateMachine();
    copy.restore(snapshot);
    expect(copy.snapshot()).toEqual(snapshot);
    for (const at of [5, 50, 100, 101]) expect(copy.range('', 20, at)).toEqual(sm.range('', 20, at));
    expect(copy.eventsSince(1, () => true)).toEqual(sm.eventsSince(1, () => true));
    expect(copy.historySize()).toEqual(sm.historySize());
  });

  it('restores a snapshot in the first line format (lines-1: every record written in full)', () => {
    const kv1 = { key: 'a', value: '1', createRevision: 1, modRevision: 1, version: 1 };
    const kv2 = { key: 'a', value: '2', createRevision: 1, modRevision: 2, version: 2 };
    const lines = [
      { format: 'concord-kv/lines-1', revision: 2, compactRevision: 0, nextLease: 1 },
      ['k', kv2],
      ['h', { type: 'put', kv: kv1, revision: 1, prev: null }],
      ['h', { type: 'put', kv: kv2, revision: 2, prev: kv1 }],
      ['m', ['n1', 'http://127.0.0.1:7001']],
    ];
    const copy = new KvStateMachine();
    copy.restore(new TextEncoder().encode(lines.map((l) => `${JSON.stringify(l)}\n`).join('')));
    expect(copy.get('a')).toEqual(kv2);
    expect(copy.range('', 10, 1)).toMatchObject({ ok: true, items: [kv1] });
    expect(copy.memberApiUrls().get('n1')).toBe('http://127.0.0.1:7001');
  });

  it('refuses a snapshot of an unknown format, or one that refers to a record not yet written', () => {
    const encode = (lines: unknown[]) =>
      new TextEncoder().encode(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
    const header = (format: string) => ({ format, revision: 1, compactRevision: 0, nextLease: 1 });
    expect(() => new KvStateMachine().restore(encode([header('concord-kv/lines-9')]))).toThrow(
      /unknown snapshot format/,
    );
    expect(() =>
      new KvStateMachine().restore(
        encode([header('concord-kv/lines-2'), ['h', { type: 'put', kv: 3, revision: 1, prev: null }]]),
      ),
    ).toThrow(/refers to record 3 before it was written/);
  });

  it('restores a snapshot written as one JSON document (before the line format)', () => {
    const { sm, run } = machine();
    run({ type: 'put', key: 'a', value: '1' });
    const legacy = {
      revision: 1,
      compactRevision: 0,
      nextLease: 1,
      keys: [sm.get('a')],
      leases: [],
      history: [],
      members: [['n1', 'http://127.0.0.1:7001']],
    };
    const copy = new KvStateMachine();
    copy.restore(new TextEncoder().encode(JSON.stringify(legacy)));
    expect(copy.get('a')?.value).toBe('1');
    expect(copy.memberApiUrls().get('n1')).toBe('http://127.0.0.1:7001');
  });

  it('snapshots a state larger than any single string could hold, record by record', () => {
    const { sm, run } = machine();
    // 40 values of 1 MiB each with their history: ~80 MiB of JSON, written as lines, never as one string.
    const big = 'x'.repeat(1024 * 1024);
    for (let i = 0; i < 40; i++) run({ type: 'put', key: `big/${i % 20}`, value: big });
    const snapshot = sm.snapshot();
    expect(snapshot.byteLength).toBeGreaterThan(40 * 1024 * 1024);
    const copy = new KvStateMachine();
    copy.restore(snapshot);
    expect(copy.get('big/7')?.value.length).toBe(big.length);
    expect(copy.historySize()).toEqual(sm.historySize());
  });

  it('bounds the history: the compaction target keeps at most N events and B bytes', () => {
    const { sm, run } = machine();
    for (let i = 0; i < 10; i++) run({ type: 'put', key: `k${i}`, value: 'v'.repeat(1000) });
    expect(sm.historySize().events).toBe(10);
    expect(sm.compactionTarget(100, 1e9)).toBe(0);
    expect(sm.compactionTarget(4, 1e9)).toBe(6);
    const bytes = sm.historySize().bytes;
    const target = sm.compactionTarget(100, bytes / 2);
    run({ type: 'compact', revision: target });
    expect(sm.historySize().bytes).toBeLessThanOrEqual(bytes / 2);
    expect(sm.historySize().events).toBe(10 - target);
    expect(sm.eventsSince(target, () => true)).toMatchObject({ ok: false });
  });
});
