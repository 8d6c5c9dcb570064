import type { Clock, TimerHandle } from '@concord/resilience';
import { describe, expect, it } from 'vitest';
import { MembershipBatcher, parseInstanceValue, parseServiceKey } from './membership.js';
import { parseStaticUpstreams, type UpstreamInstance } from './static-upstreams.js';

/** Time moves only when the test says so. */
class ManualClock implements Clock {
  private now = 0;
  private timers: { at: number; callback: () => void; cancelled: boolean }[] = [];
  nowMs(): number {
    return this.now;
  }
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer = { at: this.now + delayMs, callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }
  advance(ms: number): void {
    this.now += ms;
    const due = this.timers.filter((t) => t.at <= this.now && !t.cancelled);
    this.timers = this.timers.filter((t) => t.at > this.now && !t.cancelled);
    for (const t of due) t.callback();
  }
}

const value = (port: number, weight?: number) => JSON.stringify({ url: `http://127.0.0.1:${port}/`, weight });

function setup(windowMs = 100) {
  const clock = new ManualClock();
  const flushes: [string, string[]][] = [];
  const batcher = new MembershipBatcher(clock, windowMs, (service, instances: readonly UpstreamInstance[]) =>
    flushes.push([service, instances.map((i) => i.id).sort()]),
  );
  return { clock, flushes, batcher };
}

describe('MembershipBatcher', () => {
  it('merges a burst of registry events into one update per service at the end of the window', () => {
    const { clock, flushes, batcher } = setup();
    batcher.apply({ type: 'put', key: 'services/orders/o1', value: value(1) });
    batcher.apply({ type: 'put', key: 'services/orders/o2', value: value(2) });
    batcher.apply({ type: 'put', key: 'services/inventory/i1', value: value(3) });
    clock.advance(99);
    expect(flushes).toEqual([]);
    batcher.apply({ type: 'delete', key: 'services/orders/o1' });
    clock.advance(1);
    expect(flushes).toEqual([
      ['inventory', ['i1']],
      ['orders', ['o2']],
    ]);
  });

  it('ignores keys and values that are not instances, and deletes of unknown ones', () => {
    const { clock, flushes, batcher } = setup();
    batcher.apply({ type: 'put', key: 'services/orders', value: value(1) });
    batcher.apply({ type: 'put', key: 'services/orders/o1', value: '{"url":"not a url"}' });
    batcher.apply({ type: 'put', key: 'services/orders/o2', value: 'nope' });
    batcher.apply({ type: 'delete', key: 'services/orders/o9' });
    clock.advance(1_000);
    expect(flushes).toEqual([]);
  });

  it('on reset, empties services the listing lost except the static ones', () => {
    const { flushes, batcher } = setup(0);
    batcher.setService(
      'static-only',
      parseStaticUpstreams('static-only=s1@http://127.0.0.1:1')['static-only']!,
    );
    batcher.apply({ type: 'put', key: 'services/orders/o1', value: value(1) });
    batcher.apply({ type: 'put', key: 'services/gone/g1', value: value(2) });
    flushes.length = 0;
    batcher.reset([{ key: 'services/orders/o2', value: value(3) }], new Set(['static-only']));
    expect(flushes).toEqual([
      ['gone', []],
      ['orders', ['o2']],
    ]);
    expect(batcher.instances('static-only').map((i) => i.id)).toEqual(['s1']);
  });
});

describe('registry parsing', () => {
  it('parses keys and values', () => {
    expect(parseServiceKey('services/orders/orders-1')).toEqual({ service: 'orders', id: 'orders-1' });
    expect(parseServiceKey('services/orders/a/b')).toBeUndefined();
    expect(parseServiceKey('config/x/y')).toBeUndefined();
    expect(parseInstanceValue('o1', '{"url":"http://h:1/","weight":2,"zone":"z1"}')).toEqual({
      ok: true,
      instance: { id: 'o1', url: 'http://h:1', weight: 2, zone: 'z1' },
    });
  });

  it.each([
    ['{"url":"http://h:1","weight":1e300}', 'weight'],
    ['{"url":"http://h:1","weight":0}', 'weight'],
    ['{"url":"http://h:1","weight":-1}', 'weight'],
    ['{"url":"http://h:1","weight":1001}', 'weight'],
    ['{"url":"http://h:1","weight":"2"}', 'weight'],
    ['{"url":"file:///etc/passwd"}', 'url'],
    ['{"url":"javascript:alert(1)"}', 'url'],
    ['{"url":"ftp://h:1"}', 'url'],
    ['{"url":"not a url"}', 'url'],
    ['[1]', 'json'],
    ['nope', 'json'],
  ])('refuses %s (%s) instead of passing it to the balancer', (value, reason) => {
    expect(parseInstanceValue('o1', value)).toEqual({ ok: false, reason });
  });

  it('a refused entry is reported, never crashes, and takes an instance with that key out', () => {
    const refused: string[] = [];
    const flushed: string[][] = [];
    const batcher = new MembershipBatcher(
      new ManualClock(),
      0,
      (_service, instances) => flushed.push(instances.map((i) => `${i.id}*${i.weight}`)),
      (key, reason) => refused.push(`${key}:${reason}`),
    );
    batcher.reset([
      { key: 'services/orders/o1', value: '{"url":"http://h:1"}' },
      { key: 'services/orders/o2', value: '{"url":"http://h:2","weight":1e300}' },
    ]);
    expect(refused).toEqual(['services/orders/o2:weight']);
    expect(flushed.at(-1)).toEqual(['o1*1']);
    batcher.apply({ type: 'put', key: 'services/orders/o1', value: '{"url":"gopher://h:1"}' });
    expect(refused.at(-1)).toBe('services/orders/o1:url');
    expect(flushed.at(-1)).toEqual([]);
  });

  it('parses STATIC_UPSTREAMS and says what is wrong', () => {
    expect(parseStaticUpstreams('orders=o1@http://a:1,o2@http://a:2*3; inventory=i1@http://b:1')).toEqual({
      orders: [
        { id: 'o1', url: 'http://a:1', weight: 1, zone: undefined },
        { id: 'o2', url: 'http://a:2', weight: 3, zone: undefined },
      ],
      inventory: [{ id: 'i1', url: 'http://b:1', weight: 1, zone: undefined }],
    });
    expect(() => parseStaticUpstreams('orders')).toThrowError(/service=id@url/);
    expect(() => parseStaticUpstreams('orders=o1')).toThrowError(/id@url/);
    expect(() => parseStaticUpstreams('orders=o1@nope')).toThrowError(/not an http\(s\) URL/);
    expect(() => parseStaticUpstreams('orders=o1@http://a:1,o1@http://a:2')).toThrowError(/twice/);
    expect(() => parseStaticUpstreams('orders=o1@http://a:1*1e300')).toThrowError(/\(0, 1000\]/);
  });
});
