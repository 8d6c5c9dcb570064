import { describe, expect, it } from 'vitest';
import type { AppendRequest, Entry, Message } from '../types.js';
import { Xoshiro128 } from './prng.js';
import { RaftNode } from './raft-node.js';
import { TestCluster, bytes } from './test-cluster.js';

const ABC = ['a', 'b', 'c'];

describe('leader election (Raft §5.2)', () => {
  it('randomized election timeout: a follower campaigns after between T and 2T ticks', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const n = new RaftNode(
        {
          id: 'a',
          electionTimeoutTicks: 10,
          heartbeatIntervalTicks: 1,
          maxInflightAppends: 1,
          maxEntriesPerAppend: 1,
          maxBytesPerAppend: 1,
          snapshotChunkBytes: 1,
          preVote: false,
          checkQuorum: false,
        },
        new Xoshiro128(seed),
        RaftNode.bootstrap(ABC),
      );
      let ticks = 0;
      while (n.status().role === 'follower') {
        n.tick();
        ticks++;
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      expect(ticks).toBeLessThan(20);
      seen.add(ticks);
    }
    expect(seen.size).toBeGreaterThan(3);
  });

  it('a candidate that wins a majority becomes leader and appends a no-op of its term (§8)', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    const s = c.node('a').status();
    expect(s.role).toBe('leader');
    const noop = c.node('a').inspect().entries.at(-1)!;
    expect(noop.type).toBe('noop');
    expect(noop.term).toBe(s.term);
    expect(c.node('b').status().leader).toBe('a');
    expect(c.node('b').status().commitIndex).toBe(noop.index);
  });

  it('each server votes for at most one candidate in a term', () => {
    const n = new TestCluster(ABC, { preVote: false, checkQuorum: false }).node('c');
    n.step({ type: 'vote', from: 'a', to: 'c', term: 1, lastIndex: 1, lastTerm: 0 });
    n.step({ type: 'vote', from: 'b', to: 'c', term: 1, lastIndex: 1, lastTerm: 0 });
    const replies = n.ready().messages.filter((m) => m.type === 'voteResp');
    expect(replies.map((m) => [m.to, m.type === 'voteResp' && m.reject])).toEqual([
      ['a', false],
      ['b', true],
    ]);
  });

  it('election restriction (§5.4.1): a voter denies a candidate whose log is less up-to-date', () => {
    const c = new TestCluster(ABC, { preVote: false, checkQuorum: false });
    c.elect('a');
    c.node('a').propose(bytes('x'));
    c.settle();
    const n = c.node('b');
    const term = n.status().term + 1;
    n.step({ type: 'vote', from: 'c', to: 'b', term, lastIndex: 1, lastTerm: 0 });
    const reply = n.ready().messages.find((m) => m.type === 'voteResp');
    expect(reply).toMatchObject({ to: 'c', reject: true });
  });

  it('pre-vote (§9.6): a partitioned node does not raise its term, and does not disrupt the leader on return', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    const term = c.node('a').status().term;
    c.isolate('c');
    c.tick(100, ['c']);
    expect(c.node('c').status().term).toBe(term);
    c.heal();
    c.tick(5);
    expect(c.node('a').status()).toMatchObject({ role: 'leader', term });
  });

  it('without pre-vote a partitioned node raises its term (the problem pre-vote solves)', () => {
    const c = new TestCluster(ABC, { preVote: false });
    c.elect('a');
    const term = c.node('a').status().term;
    c.isolate('c');
    c.tick(100, ['c']);
    expect(c.node('c').status().term).toBeGreaterThan(term);
  });

  it('check-quorum (§6.2): a leader that cannot hear from a majority steps down', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.isolate('a');
    c.tick(25, ['a']);
    expect(c.node('a').status().role).toBe('follower');
  });

  it('leader lease: a follower that hears from its leader ignores a disruptive vote request', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.tick(2);
    const n = c.node('b');
    const before = n.status().term;
    n.step({ type: 'vote', from: 'c', to: 'b', term: before + 5, lastIndex: 100, lastTerm: before + 4 });
    expect(n.status().term).toBe(before);
    expect(n.hasReady()).toBe(false);
  });
});

describe('log replication (Raft §5.3)', () => {
  it('a proposal on a follower is refused with a hint naming the leader', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    expect(c.node('b').propose(bytes('x'))).toEqual({
      ok: false,
      error: { kind: 'notLeader', leaderHint: 'a' },
    });
  });

  it('committed entries are applied on every server in the same order', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    for (const v of ['1', '2', '3']) expect(c.node('a').propose(bytes(v)).ok).toBe(true);
    c.settle();
    c.tick(2);
    for (const id of ABC) expect(c.appliedData(id)).toEqual(['1', '2', '3']);
  });

  it("a follower's conflicting uncommitted suffix is overwritten by the leader's log", () => {
    const c = new TestCluster(ABC, { checkQuorum: false });
    c.elect('a');
    c.isolate('a');
    c.node('a').propose(bytes('lost-1'));
    c.node('a').propose(bytes('lost-2'));
    c.settle();
    c.heal();
    c.isolate('a');
    c.elect('b');
    c.node('b').propose(bytes('kept'));
    c.settle();
    c.heal();
    c.tick(3);
    expect(c.node('a').status().leader).toBe('b');
    expect(c.appliedData('a')).toEqual(['kept']);
    const terms = c
      .node('a')
      .inspect()
      .entries.map((e) => e.term);
    expect(terms).toEqual(
      c
        .node('b')
        .inspect()
        .entries.map((e) => e.term),
    );
  });

  it('fast backtracking: conflictTerm and conflictIndex skip a whole term in one round trip', () => {
    const c = new TestCluster(ABC, { checkQuorum: false, maxEntriesPerAppend: 1000 });
    c.elect('a');
    c.isolate('a');
    for (let i = 0; i < 50; i++) c.node('a').propose(bytes(`stale-${i}`));
    c.settle();
    c.heal();
    c.isolate('a');
    c.elect('b');
    for (let i = 0; i < 5; i++) c.node('b').propose(bytes(`new-${i}`));
    c.settle();
    c.heal();
    const before = c.sent.length;
    c.tick(3);
    const rejects = c.sent.slice(before).filter((m) => m.type === 'appendResp' && m.from === 'a' && m.reject);
    expect(rejects.length).toBeLessThanOrEqual(2);
    expect(c.appliedData('a')).toEqual(['new-0', 'new-1', 'new-2', 'new-3', 'new-4']);
  });

  it('pipelining: a follower in replicate state has at most maxInflightAppends appends unacknowledged', () => {
    const c = new TestCluster(ABC, { maxInflightAppends: 3, maxEntriesPerAppend: 1 });
    c.elect('a');
    c.filter = (m) => m.type !== 'appendResp'; // acks lost: the window must fill and stop
    for (let i = 0; i < 20; i++) c.node('a').propose(bytes(`${i}`));
    const rd = c.node('a').ready();
    const toB = rd.messages.filter((m): m is AppendRequest => m.type === 'append' && m.to === 'b');
    expect(toB.length).toBe(3);
    expect(toB.map((m) => m.entries.length)).toEqual([1, 1, 1]);
    expect(c.node('a').progressOf('b')?.inflightCount()).toBe(3);
  });

  it('batching: proposals made together leave in one append per follower', () => {
    const c = new TestCluster(ABC, { maxEntriesPerAppend: 100 });
    c.elect('a');
    for (let i = 0; i < 10; i++) c.node('a').propose(bytes(`${i}`));
    const rd = c.node('a').ready();
    const appends = rd.messages.filter((m): m is AppendRequest => m.type === 'append' && m.to === 'b');
    expect(appends.length).toBe(1);
    expect(appends[0]!.entries.length).toBe(10);
  });
});

describe('safety (Raft §5.4)', () => {
  it('Figure 8: a leader never commits an entry of an earlier term by counting replicas', () => {
    const old: Entry = { index: 2, term: 1, type: 'normal', data: bytes('old') };
    const boot = RaftNode.bootstrap(['a', 'b', 'c', 'd', 'e']);
    const a = new RaftNode(
      {
        id: 'a',
        electionTimeoutTicks: 10,
        heartbeatIntervalTicks: 1,
        maxInflightAppends: 4,
        maxEntriesPerAppend: 8,
        maxBytesPerAppend: 1 << 20,
        snapshotChunkBytes: 1024,
        preVote: false,
        checkQuorum: false,
      },
      new Xoshiro128(3),
      { hardState: { term: 1, vote: null, commit: 1 }, snapshot: null, entries: [...boot.entries, old] },
    );
    while (a.status().role !== 'candidate') a.tick();
    const term = a.status().term;
    for (const from of ['b', 'c']) a.step({ type: 'voteResp', from, to: 'a', term, reject: false });
    expect(a.status().role).toBe('leader');
    a.ready();
    a.advance();
    // a, b and c now hold the term-1 entry at index 2: a majority of five, but of an older term.
    for (const from of ['b', 'c'])
      a.step({ type: 'appendResp', from, to: 'a', term, reject: false, index: 2 });
    expect(a.status().commitIndex).toBe(1);
    // Once the no-op of the current term (index 3) is on a majority, both commit.
    for (const from of ['b', 'c'])
      a.step({ type: 'appendResp', from, to: 'a', term, reject: false, index: 3 });
    expect(a.status().commitIndex).toBe(3);
  });
});

describe('log compaction and InstallSnapshot (Raft §7)', () => {
  it('compact drops entries at and before the snapshot from memory', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    for (let i = 0; i < 10; i++) c.node('a').propose(bytes(`${i}`));
    c.settle();
    const a = c.node('a');
    const applied = a.status().appliedIndex;
    const snap = a.compact(applied - 2, bytes('state'));
    expect(snap.meta.index).toBe(applied - 2);
    expect(a.inspect().snapshotIndex).toBe(applied - 2);
    expect(a.inspect().entries[0]?.index).toBe(applied - 1);
    expect(a.termAt(applied - 3)).toBeUndefined();
  });

  it('a follower behind the first log index receives the snapshot in chunks', () => {
    const c = new TestCluster(ABC, { snapshotChunkBytes: 100 });
    c.elect('a');
    c.isolate('c');
    for (let i = 0; i < 20; i++) c.node('a').propose(bytes(`${i}`));
    c.settle();
    c.tick(2);
    const a = c.node('a');
    const state = new Uint8Array(1000).fill(7);
    a.compact(a.status().appliedIndex, state);
    c.heal();
    const node = c.node('c');
    const before = c.sent.length;
    c.tick(3);
    const chunks = c.sent.slice(before).filter((m) => m.type === 'snapshot' && m.to === 'c');
    expect(chunks.length).toBe(10);
    const installed = c.installed.get('c') ?? [];
    expect(installed).toHaveLength(1);
    expect(installed[0]!.data).toEqual(state);
    expect(node.status().commitIndex).toBe(a.status().commitIndex);
  });
});

describe('linearizable reads (thesis §6.4)', () => {
  it('ReadIndex: the leader answers after a heartbeat round confirms its leadership', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    const commit = c.node('a').status().commitIndex;
    expect(c.node('a').readIndex('r1')).toEqual({ ok: true });
    const rd = c.node('a').ready();
    expect(rd.readStates).toEqual([]);
    expect(rd.messages.some((m) => m.type === 'heartbeat' && m.context === 'r1')).toBe(true);
    for (const m of rd.messages) c.queue.push(m);
    c.node('a').advance();
    c.settle();
    expect(c.readStates.get('a')).toEqual([{ context: 'r1', index: commit }]);
  });

  it('ReadIndex: a leader cut off from the majority never answers', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.isolate('a');
    c.node('a').readIndex('r1');
    c.settle();
    expect(c.readStates.get('a')).toEqual([]);
  });

  it('ReadIndex: a follower forwards the request to the leader', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.node('a').propose(bytes('x'));
    c.settle();
    c.node('b').readIndex('rb');
    c.settle();
    expect(c.readStates.get('b')).toEqual([{ context: 'rb', index: c.node('a').status().commitIndex }]);
  });
});

describe('leadership transfer (thesis §3.10)', () => {
  it('TimeoutNow makes the target campaign at once and win', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.tick(2);
    expect(c.node('a').transferLeadership('b')).toEqual({ ok: true });
    c.settle();
    expect(c.node('b').status().role).toBe('leader');
    expect(c.node('a').status().role).toBe('follower');
  });

  it('proposals are refused while a transfer is in progress', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.isolate('b');
    c.node('a').transferLeadership('b');
    expect(c.node('a').propose(bytes('x'))).toEqual({ ok: false, error: { kind: 'transferring', to: 'b' } });
  });
});

describe('membership changes, one server at a time (thesis §4)', () => {
  it('add a learner, let it catch up, promote it; learners never vote nor count for commit', () => {
    const c = new TestCluster(['a', 'b', 'c', 'd'], {}, ABC);
    c.elect('a');
    expect(c.node('a').proposeConfChange({ type: 'addLearner', node: 'd' }).ok).toBe(true);
    c.tick(3);
    expect(c.node('d').status().conf).toEqual({ voters: ABC, learners: ['d'] });
    // A learner never campaigns.
    c.tick(50, ['d']);
    expect(c.node('d').status().role).toBe('follower');
    // With b and c away, the learner's ack does not make a majority.
    c.isolate('b');
    c.isolate('c');
    const { index } = c.node('a').propose(bytes('needs-voters')) as { index: number };
    c.settle();
    expect(c.node('d').inspect().entries.at(-1)?.index).toBe(index);
    expect(c.node('a').status().commitIndex).toBeLessThan(index);
    c.heal();
    c.tick(2);
    expect(c.node('a').proposeConfChange({ type: 'promote', node: 'd' }).ok).toBe(true);
    c.tick(3);
    expect(c.node('a').status().conf.voters).toEqual([...ABC, 'd']);
  });

  it('a second change is refused while the first is uncommitted', () => {
    const c = new TestCluster(['a', 'b', 'c', 'd'], {}, ABC);
    c.elect('a');
    c.isolate('b');
    c.isolate('c');
    expect(c.node('a').proposeConfChange({ type: 'addLearner', node: 'd' }).ok).toBe(true);
    expect(c.node('a').proposeConfChange({ type: 'remove', node: 'c' })).toEqual({
      ok: false,
      error: { kind: 'confChangePending' },
    });
  });

  it('a learner that has not caught up cannot be promoted', () => {
    const c = new TestCluster(['a', 'b', 'c', 'd'], {}, ABC);
    c.elect('a');
    c.node('a').proposeConfChange({ type: 'addLearner', node: 'd' });
    c.isolate('d');
    c.tick(3);
    const r = c.node('a').proposeConfChange({ type: 'promote', node: 'd' });
    expect(r.ok).toBe(false);
  });

  it('a leader that removes itself steps down once the change is committed', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.tick(2);
    expect(c.node('a').proposeConfChange({ type: 'remove', node: 'a' }).ok).toBe(true);
    c.tick(2);
    expect(c.node('a').status().role).toBe('follower');
    c.tick(60, ['b', 'c']);
    const leaders = ['b', 'c'].filter((id) => c.node(id).status().role === 'leader');
    expect(leaders).toHaveLength(1);
    expect(c.node(leaders[0]!).status().conf.voters).toEqual(['b', 'c']);
  });
});

describe('the Ready contract', () => {
  it('one Ready at a time; hard state is included only when it changed', () => {
    const c = new TestCluster(ABC);
    c.elect('a');
    c.tick(3);
    const a = c.node('a');
    a.propose(bytes('x'));
    const rd = a.ready();
    expect(() => a.ready()).toThrow(/advance/);
    expect(a.hasReady()).toBe(false);
    expect(rd.entries).toHaveLength(1);
    expect(rd.hardState).toBeUndefined();
    a.advance();
  });

  it('messages never leave in the Ready that precedes the hard state they depend on', () => {
    const c = new TestCluster(ABC, { preVote: false });
    const a = c.node('a');
    c.settle();
    for (let i = 0; i < 30 && !a.hasReady(); i++) a.tick();
    const rd = a.ready();
    const votes = rd.messages.filter((m: Message) => m.type === 'vote');
    expect(votes.length).toBe(2);
    expect(rd.hardState).toMatchObject({ term: votes[0]!.term, vote: 'a' });
    a.advance();
  });
});
