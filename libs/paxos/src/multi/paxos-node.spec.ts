import { Xoshiro128, type NodeId } from '@concord/raft';
import { describe, expect, it } from 'vitest';
import { ZERO_BALLOT } from '../ballot.js';
import { defaultPaxosConfig, PaxosNode } from './paxos-node.js';
import type { PaxosDurableState, PaxosMessage, PaxosReady } from './types.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (v: Uint8Array | null): string => (v === null ? 'no-op' : new TextDecoder().decode(v));
const ids: NodeId[] = ['a', 'b', 'c'];

function node(id: NodeId, durable?: PaxosDurableState, leaderElection = true): PaxosNode {
  return new PaxosNode(
    { ...defaultPaxosConfig, id, members: ids, leaderElection },
    new Xoshiro128(id.charCodeAt(0)),
    durable,
  );
}

/** Delivers every ready message (persisting is instantaneous here) until the cluster is quiet. */
function settle(nodes: Map<NodeId, PaxosNode>, cut: Set<NodeId> = new Set()): PaxosReady[] {
  const seen: PaxosReady[] = [];
  for (let round = 0; round < 100; round++) {
    const msgs: PaxosMessage[] = [];
    for (const n of nodes.values()) {
      if (!n.hasReady()) continue;
      const rd = n.ready();
      seen.push(rd);
      msgs.push(...rd.messages);
      n.advance(rd);
    }
    if (msgs.length === 0) return seen;
    for (const m of msgs) if (!cut.has(m.to) && !cut.has(m.from)) nodes.get(m.to)?.step(m);
  }
  return seen;
}

describe('Multi-Paxos node', () => {
  it('a follower that hears no leader runs phase 1 once, then phase 2 per command', () => {
    const nodes = new Map(ids.map((id) => [id, node(id)]));
    for (let t = 0; t < 30 && ![...nodes.values()].some((n) => n.status().role !== 'follower'); t++)
      for (const n of nodes.values()) n.tick();
    settle(nodes);
    const leader = [...nodes.values()].find((n) => n.status().role === 'leader')!;
    expect(leader).toBeDefined();
    for (let i = 0; i < 5; i++) expect(leader.propose(bytes(`cmd${i}`)).ok).toBe(true);
    settle(nodes);
    for (let t = 0; t < 6; t++) leader.tick(); // a heartbeat carries how far the log is chosen
    settle(nodes);
    expect(leader.status().phase1Started).toBe(1);
    for (const n of nodes.values()) {
      expect(n.status().firstUnchosen).toBe(6);
      expect(text(n.chosenAt(5)!.value)).toBe('cmd4');
    }
  });

  it('a follower refuses to take commands and names the leader', () => {
    const nodes = new Map(ids.map((id) => [id, node(id)]));
    nodes.get('a')!.campaign();
    settle(nodes);
    const r = nodes.get('b')!.propose(bytes('x'));
    expect(r).toEqual({ ok: false, leaderHint: 'a' });
  });

  it('a new leader re-proposes an accepted value and fills holes with no-ops', () => {
    // c accepted slot 3 in an old ballot; nobody accepted slots 1 and 2 (holes).
    const old = { round: 1, node: 'a' };
    const durable: PaxosDurableState = {
      promised: old,
      accepted: new Map([[3, { ballot: old, value: bytes('kept') }]]),
    };
    const nodes = new Map<NodeId, PaxosNode>([
      ['a', node('a')],
      ['b', node('b')],
      ['c', node('c', durable)],
    ]);
    nodes.get('b')!.campaign();
    settle(nodes, new Set(['a'])); // a is away: b's majority is b and c
    const b = nodes.get('b')!;
    expect(b.status().role).toBe('leader');
    expect(b.chosenAt(1)).toEqual({ value: null });
    expect(b.chosenAt(2)).toEqual({ value: null });
    expect(text(b.chosenAt(3)!.value)).toBe('kept');
    expect(b.propose(bytes('next'))).toMatchObject({ ok: true, slot: 4 });
  });

  it('an acceptor never goes back on a promise: a lower ballot is refused with the promise', () => {
    const high = { round: 5, node: 'c' };
    const a = node('a', { promised: high, accepted: new Map() });
    a.step({
      type: 'accept',
      from: 'b',
      to: 'a',
      ballot: { round: 4, node: 'b' },
      slot: 1,
      value: bytes('x'),
      chosenThrough: 0,
    });
    const rd = a.ready();
    expect(rd.write).toBeNull();
    expect(rd.messages).toEqual([
      { type: 'nack', from: 'a', to: 'b', ballot: { round: 4, node: 'b' }, promised: high },
    ]);
    expect(a.acceptedAt(1)).toBeUndefined();
  });

  it('a promise and an acceptance are handed to the disk in the same Ready as the reply they allow', () => {
    const a = node('a');
    a.step({ type: 'prepare', from: 'b', to: 'a', ballot: { round: 1, node: 'b' }, fromSlot: 1 });
    let rd = a.ready();
    expect(rd.write?.promised).toEqual({ round: 1, node: 'b' });
    expect(rd.messages[0]?.type).toBe('promise');
    a.advance(rd);
    a.step({
      type: 'accept',
      from: 'b',
      to: 'a',
      ballot: { round: 1, node: 'b' },
      slot: 1,
      value: bytes('v'),
      chosenThrough: 0,
    });
    rd = a.ready();
    expect(rd.write?.accepted).toEqual([{ slot: 1, ballot: { round: 1, node: 'b' }, value: bytes('v') }]);
    expect(rd.messages[0]?.type).toBe('accepted');
    expect(a.status().promised).not.toEqual(ZERO_BALLOT);
  });
});
