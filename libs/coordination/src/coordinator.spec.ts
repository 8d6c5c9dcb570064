import { describe, expect, it } from 'vitest';
import type { WatchEvent } from './commands.js';
import { Coordinator, CoordinatorError } from './coordinator.js';
import { KvStateMachine } from './kv-state-machine.js';
import { LocalConsensus } from './local-consensus.js';

function setup() {
  const clock = {
    t: 0,
    now() {
      return this.t;
    },
  };
  const state = new KvStateMachine();
  const consensus = new LocalConsensus(state);
  const coordinator = new Coordinator(
    state,
    consensus,
    { leaseCheckIntervalMs: 1_000, compactionIntervalMs: 60_000 },
    clock,
  );
  return { clock, state, consensus, coordinator };
}

describe('Coordinator: locks with fencing tokens', () => {
  it('grants the lock in FIFO order with strictly increasing fencing tokens', async () => {
    const { coordinator } = setup();
    const a = await coordinator.grantLease(10);
    const b = await coordinator.grantLease(10);
    const c = await coordinator.grantLease(10);
    const first = await coordinator.lock('db', a.id, 1_000);
    const order: string[] = [];
    const second = coordinator.lock('db', b.id, 5_000).then((r) => (order.push('b'), r));
    const third = coordinator.lock('db', c.id, 5_000).then((r) => (order.push('c'), r));
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    await coordinator.unlock('db', first.key);
    const secondHeld = await second;
    await coordinator.unlock('db', secondHeld.key);
    const thirdHeld = await third;
    expect(order).toEqual(['b', 'c']);
    expect(secondHeld.fencingToken).toBeGreaterThan(first.fencingToken);
    expect(thirdHeld.fencingToken).toBeGreaterThan(secondHeld.fencingToken);
  });

  it('times out with 408 and leaves the queue', async () => {
    const { coordinator, state } = setup();
    const a = await coordinator.grantLease(10);
    const b = await coordinator.grantLease(10);
    await coordinator.lock('x', a.id, 100);
    await expect(coordinator.lock('x', b.id, 30)).rejects.toMatchObject({ status: 408 });
    expect(state.range('locks/x/', 10)).toMatchObject({ items: [{ key: `locks/x/${a.id}` }] });
  });

  it("hands the lock on when the holder's lease expires, with a larger token (the old holder is fenced)", async () => {
    const { coordinator, clock } = setup();
    const holder = await coordinator.grantLease(2);
    const waiter = await coordinator.grantLease(30);
    const held = await coordinator.lock('res', holder.id, 100);
    const next = coordinator.lock('res', waiter.id, 10_000);
    clock.t = 1_500;
    coordinator.keepAlive(waiter.id);
    clock.t = 2_000;
    await coordinator.runMaintenance();
    const acquired = await next;
    expect(acquired.fencingToken).toBeGreaterThan(held.fencingToken);
  });

  it('refuses a lock for an unknown lease', async () => {
    const { coordinator } = setup();
    await expect(coordinator.lock('x', '00000000000000ff', 10)).rejects.toBeInstanceOf(CoordinatorError);
  });
});

describe('Coordinator: leases', () => {
  it('keeps a lease alive with keep-alives and expires it (and its keys) without', async () => {
    const { coordinator, clock, state } = setup();
    const lease = await coordinator.grantLease(3);
    await coordinator.put('services/orders/1', JSON.stringify({ url: 'http://127.0.0.1:1' }), lease.id);
    clock.t = 2_500;
    expect(coordinator.keepAlive(lease.id)).toEqual({ id: lease.id, ttlSeconds: 3 });
    clock.t = 5_000;
    await coordinator.runMaintenance();
    expect(state.get('services/orders/1')).toBeDefined();
    clock.t = 5_500;
    await coordinator.runMaintenance();
    expect(state.get('services/orders/1')).toBeUndefined();
    expect(() => coordinator.keepAlive(lease.id)).toThrow(CoordinatorError);
  });

  it('does not expire anything while following; a new leader grants a full TTL of its own', async () => {
    const { coordinator, clock, consensus, state } = setup();
    const lease = await coordinator.grantLease(2);
    consensus.setLeading(false);
    clock.t = 10_000;
    await coordinator.runMaintenance();
    expect(state.lease(lease.id)).toBeDefined();
    consensus.setLeading(true);
    clock.t = 11_999;
    await coordinator.runMaintenance();
    expect(state.lease(lease.id)).toBeDefined();
    clock.t = 12_000;
    await coordinator.runMaintenance();
    expect(state.lease(lease.id)).toBeUndefined();
  });
});

describe('Coordinator: elections and registry', () => {
  it('elects the oldest candidate and passes leadership on resignation', async () => {
    const { coordinator } = setup();
    const a = await coordinator.grantLease(10);
    const b = await coordinator.grantLease(10);
    const first = await coordinator.campaign('orchestrator', a.id, 'instance-a', 100);
    const second = coordinator.campaign('orchestrator', b.id, 'instance-b', 5_000);
    expect(await coordinator.electionLeader('orchestrator', true)).toMatchObject({
      value: 'instance-a',
      term: first.term,
    });
    await coordinator.resign('orchestrator', first.key);
    const won = await second;
    expect(won.term).toBeGreaterThan(first.term);
    expect(await coordinator.electionLeader('orchestrator', true)).toMatchObject({ value: 'instance-b' });
  });

  it('lists registered instances and skips malformed values', async () => {
    const { coordinator } = setup();
    await coordinator.put('services/orders/a', JSON.stringify({ url: 'http://a', zone: 'z1', weight: 2 }));
    await coordinator.put('services/orders/b', 'not json');
    const { instances } = await coordinator.services('orders', true);
    expect(instances).toEqual([{ id: 'a', url: 'http://a', zone: 'z1', weight: 2, modRevision: 1 }]);
  });
});

describe('Coordinator: watches', () => {
  it('replays from a revision then follows live events, without gap or duplicate', async () => {
    const { coordinator } = setup();
    await coordinator.put('cfg/a', '1');
    await coordinator.put('cfg/b', '1');
    const seen: WatchEvent[] = [];
    const stop = coordinator.watch({ prefix: 'cfg/' }, 2, (e) => seen.push(e));
    await coordinator.put('cfg/a', '2');
    await coordinator.put('other', 'x');
    await coordinator.delete('cfg/b');
    stop();
    await coordinator.put('cfg/c', 'after stop');
    expect(seen.map((e) => `${e.type}:${e.kv.key}@${e.revision}`)).toEqual([
      'put:cfg/b@2',
      'put:cfg/a@3',
      'delete:cfg/b@5',
    ]);
  });

  it('on a node behind the start revision, sends nothing older than it (a resumed watch sees no repeat)', async () => {
    const { coordinator } = setup();
    await coordinator.put('w/a', '1'); // revision 1: this node is at 1, the client already saw up to 2 elsewhere
    const seen: WatchEvent[] = [];
    const stop = coordinator.watch({ prefix: 'w/' }, 3, (e) => seen.push(e));
    await coordinator.put('w/b', '1'); // revision 2, applied late here: already delivered by another node
    await coordinator.put('w/c', '1'); // revision 3: new to the client
    stop();
    expect(seen.map((e) => `${e.kv.key}@${e.revision}`)).toEqual(['w/c@3']);
  });

  it('answers 410 with the compaction revision for a compacted start', async () => {
    const { coordinator, state } = setup();
    await coordinator.put('a', '1');
    await coordinator.put('a', '2');
    state.execute({ type: 'compact', revision: 1 });
    expect(() => coordinator.watch({ key: 'a' }, 1, () => undefined)).toThrow(
      expect.objectContaining({ status: 410, details: { compactRevision: 1 } }),
    );
  });
});

describe('Coordinator: bounded history', () => {
  it('compacts through consensus once the history passes its event or byte bound', async () => {
    const state = new KvStateMachine();
    const coordinator = new Coordinator(state, new LocalConsensus(state), {
      leaseCheckIntervalMs: 1_000,
      compactionIntervalMs: 60_000,
      historyEventsMax: 5,
      historyBytesMax: 1e9,
    });
    for (let i = 0; i < 12; i++) await coordinator.put(`k${i}`, 'v');
    await coordinator.runMaintenance();
    expect(state.historySize().events).toBeLessThanOrEqual(5);
    expect(state.compactedRevision()).toBe(7);
  });
});
