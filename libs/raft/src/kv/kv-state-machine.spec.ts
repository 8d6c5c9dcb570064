import { describe, expect, it } from 'vitest';
import type { Entry } from '../types.js';
import { encodeKvCommand, KvStateMachine, type KvCommand } from './kv-state-machine.js';

let index = 0;
const entry = (cmd: KvCommand): Entry => ({
  index: ++index,
  term: 1,
  type: 'normal',
  data: encodeKvCommand(cmd),
});

describe('KvStateMachine', () => {
  it('put, get, cas and delete', () => {
    const sm = new KvStateMachine();
    expect(sm.apply(entry({ op: 'get', key: 'k' }))).toEqual({ ok: true, value: null });
    expect(sm.apply(entry({ op: 'cas', key: 'k', expect: null, value: 'a' }))).toEqual({
      ok: true,
      value: null,
    });
    expect(sm.apply(entry({ op: 'cas', key: 'k', expect: 'x', value: 'b' }))).toEqual({
      ok: false,
      value: 'a',
    });
    expect(sm.apply(entry({ op: 'put', key: 'k', value: 'c' }))).toEqual({ ok: true, value: 'a' });
    expect(sm.apply(entry({ op: 'delete', key: 'k' }))).toEqual({ ok: true, value: 'c' });
    expect(sm.get('k')).toBeNull();
  });

  it('a snapshot restores the same state, whatever the insertion order', () => {
    const a = new KvStateMachine();
    a.apply(entry({ op: 'put', key: 'y', value: '2' }));
    a.apply(entry({ op: 'put', key: 'x', value: '1' }));
    const b = new KvStateMachine();
    b.restore(a.snapshot());
    expect(b.get('x')).toBe('1');
    expect(b.get('y')).toBe('2');
    expect(b.snapshot()).toEqual(a.snapshot());
  });

  it('an entry that is not a command is applied as a deterministic no-op', () => {
    const sm = new KvStateMachine();
    const r = sm.apply({ index: 1, term: 1, type: 'normal', data: new TextEncoder().encode('not json') });
    expect(r).toEqual({ ok: false, value: null });
  });
});
