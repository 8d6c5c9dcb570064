import { describe, expect, it } from 'vitest';
import { assemble, changes, clusterOf, type NodeAnswer, type PollResult } from './snapshot.js';

const members = [
  { id: 'n1', role: 'voter', matchIndex: null, apiUrl: 'http://127.0.0.1:7001' },
  { id: 'n2', role: 'voter', matchIndex: null, apiUrl: 'http://127.0.0.1:7002' },
  { id: 'n3', role: 'voter', matchIndex: null, apiUrl: 'http://127.0.0.1:7003' },
];

function node(id: string, port: number, leader: string | null, term: number, commitIndex = 10): NodeAnswer {
  return {
    url: `http://127.0.0.1:${port}`,
    ok: true,
    view: { id, leader, term, commitIndex, appliedIndex: commitIndex, members },
  };
}
const down = (port: number): NodeAnswer => ({
  url: `http://127.0.0.1:${port}`,
  ok: false,
  error: 'ECONNREFUSED',
});

function poll(atMs: number, coordinators: NodeAnswer[], overrides: Partial<PollResult> = {}): PollResult {
  return {
    atMs,
    coordinators,
    rings: {
      ok: true,
      value: {
        algorithm: 'ring',
        services: [
          {
            service: 'orders',
            panic: false,
            instances: [
              {
                id: 'orders-1',
                url: 'u1',
                weight: 1,
                keyShare: 0.5,
                inFlight: 0,
                healthy: true,
                ejected: false,
                breaker: 'closed',
              },
              {
                id: 'orders-2',
                url: 'u2',
                weight: 1,
                keyShare: 0.5,
                inFlight: 1,
                healthy: true,
                ejected: false,
                breaker: 'closed',
              },
            ],
          },
        ],
      },
    },
    requestCounts: new Map([
      ['orders-1', 100],
      ['orders-2', 50],
    ]),
    transactions: { ok: true, items: [] },
    ...overrides,
  };
}

describe('clusterOf', () => {
  it("names the leader the nodes of the highest term agree on, with each node's own figures", () => {
    const view = clusterOf([
      node('n1', 7001, 'n2', 3, 40),
      node('n2', 7002, 'n2', 3, 41),
      node('n3', 7003, 'n2', 3, 39),
    ]);
    expect(view.leader).toBe('n2');
    expect(view.term).toBe(3);
    expect(view.quorumUp).toBe(true);
    expect(view.members.map((m) => [m.id, m.role, m.commitIndex])).toEqual([
      ['n1', 'follower', 40],
      ['n2', 'leader', 41],
      ['n3', 'follower', 39],
    ]);
  });

  it('shows a node that does not answer as down, named by its API URL', () => {
    const view = clusterOf([node('n1', 7001, 'n2', 3), node('n2', 7002, 'n2', 3), down(7003)]);
    const n3 = view.members.find((m) => m.id === 'n3');
    expect(n3).toMatchObject({ role: 'down', up: false, error: 'ECONNREFUSED' });
    expect(view.quorumUp).toBe(true);
  });

  it('reports no leader when the nodes of the highest term disagree or know none', () => {
    expect(clusterOf([node('n1', 7001, null, 5), node('n2', 7002, 'n2', 4)]).leader).toBeNull();
    expect(clusterOf([down(7001), down(7002), down(7003)])).toMatchObject({
      leader: null,
      term: null,
      quorumUp: false,
    });
  });
});

describe('assemble and changes', () => {
  it('computes request rates from the gateway counters between two polls', () => {
    const first = assemble(poll(1_000, [node('n1', 7001, 'n1', 1)]), undefined);
    const second = assemble(
      poll(2_000, [node('n1', 7001, 'n1', 1)], {
        requestCounts: new Map([
          ['orders-1', 130],
          ['orders-2', 50],
        ]),
      }),
      {
        snapshot: first.snapshot,
        counts: new Map([
          ['orders-1', 100],
          ['orders-2', 50],
        ]),
      },
    );
    const rates = second.snapshot.rings[0]?.instances.map((i) => i.requestsPerSecond);
    expect(rates).toEqual([30, 0]);
    expect(first.snapshot.rings[0]?.instances[0]?.requestsPerSecond).toBeNull();
  });

  it('reports a leader change, a member going down, an ejection and a breaker opening', () => {
    const before = assemble(
      poll(1_000, [node('n1', 7001, 'n1', 1), node('n2', 7002, 'n1', 1), node('n3', 7003, 'n1', 1)]),
      undefined,
    );
    const afterPoll = poll(2_000, [down(7001), node('n2', 7002, 'n2', 2), node('n3', 7003, 'n2', 2)]);
    const rings = afterPoll.rings.ok ? afterPoll.rings.value : undefined;
    const changed = {
      ...afterPoll,
      rings: {
        ok: true as const,
        value: {
          algorithm: 'ring',
          services: [
            {
              service: 'orders',
              panic: false,
              instances: [
                { ...rings!.services[0]!.instances[0]!, ejected: true, healthy: false },
                { ...rings!.services[0]!.instances[1]!, breaker: 'open' },
              ],
            },
          ],
        },
      },
    };
    const after = assemble(changed, { snapshot: before.snapshot, counts: undefined });
    expect(after.events.map((e) => e.kind)).toEqual([
      'member-down',
      'leader-elected',
      'instance-ejected',
      'breaker-changed',
    ]);
    expect(after.events[1]?.message).toBe('leader n1 → n2 (term 2)');
    expect(after.events.every((e) => e.level === 'warn')).toBe(true);
  });

  it('names the old leader when an election happens between polls that saw no leader', () => {
    const first = assemble(poll(1_000, [node('n1', 7001, 'n1', 1), node('n2', 7002, 'n1', 1)]), undefined);
    const gap = assemble(poll(2_000, [down(7001), node('n2', 7002, null, 1)]), {
      snapshot: first.snapshot,
      counts: undefined,
    });
    expect(gap.events.map((e) => e.message)).toContain('no leader (was n1)');
    expect(gap.snapshot.lastLeader).toBe('n1');
    const elected = assemble(poll(3_000, [down(7001), node('n2', 7002, 'n2', 2)]), {
      snapshot: gap.snapshot,
      counts: undefined,
    });
    expect(elected.events.map((e) => e.message)).toEqual(['leader n1 → n2 (term 2)']);
    expect(elected.events[0]?.level).toBe('warn');
    const back = assemble(poll(4_000, [down(7001), node('n2', 7002, null, 2)]), {
      snapshot: elected.snapshot,
      counts: undefined,
    });
    const again = assemble(poll(5_000, [down(7001), node('n2', 7002, 'n2', 3)]), {
      snapshot: back.snapshot,
      counts: undefined,
    });
    expect(again.events.map((e) => e.message)).toEqual(['leader n2 again (term 3)']);
  });

  it('says nothing about instances when the gateway could not be read, and keeps the last transactions', () => {
    const tx = {
      id: 'a'.repeat(36),
      type: 'place-order',
      mode: 'saga',
      status: 'running',
      createdAt: 'x',
      updatedAt: 'x',
    };
    const before = assemble(
      poll(1_000, [node('n1', 7001, 'n1', 1)], { transactions: { ok: true, items: [tx] } }),
      undefined,
    );
    const after = assemble(
      poll(2_000, [node('n1', 7001, 'n1', 1)], {
        rings: { ok: false, error: 'ECONNREFUSED' },
        transactions: { ok: false, error: 'no answer in time' },
      }),
      { snapshot: before.snapshot, counts: undefined },
    );
    expect(after.events).toEqual([]);
    expect(after.snapshot.ringsError).toBe('ECONNREFUSED');
    expect(after.snapshot.transactions).toEqual([tx]);
  });

  it('reports a transaction when it settles, once', () => {
    const running = {
      id: 'b'.repeat(36),
      type: 'place-order',
      mode: '2pc',
      status: 'preparing',
      createdAt: 'x',
      updatedAt: 'x',
    };
    const s1 = assemble(poll(1, [], { transactions: { ok: true, items: [running] } }), undefined).snapshot;
    const s2 = assemble(
      poll(2, [], { transactions: { ok: true, items: [{ ...running, status: 'committed' }] } }),
      {
        snapshot: s1,
        counts: undefined,
      },
    ).snapshot;
    expect(changes(s1, s2).map((e) => e.message)).toEqual([`2pc bbbbbbbb place-order committed`]);
    expect(changes(s2, s2)).toEqual([]);
  });
});
