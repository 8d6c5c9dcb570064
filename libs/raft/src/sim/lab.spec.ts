import { describe, expect, it } from 'vitest';
import { ELECTION_TIMEOUT_MS, LabHarness } from './lab-harness.js';

/**
 * The scenarios of the MIT 6.5840 Raft lab (src/raft/test_test.go), under their own names, on the
 * simulator's virtual time. Server numbers, commands and the helpers (one, checkOneLeader, nCommitted,
 * crash1, start1...) follow the lab. The invariant checkers run on every event throughout.
 */

const SNAPSHOT_INTERVAL = 10;

function lab(n: number, seed: number, opts: { reliable?: boolean; snapshot?: boolean } = {}): LabHarness {
  return new LabHarness(n, {
    seed,
    ...(opts.reliable === false ? { reliable: false } : {}),
    ...(opts.snapshot ? { snapshotEveryEntries: SNAPSHOT_INTERVAL } : {}),
  });
}

describe('3A: leader election', () => {
  it('initial election', () => {
    const cfg = lab(3, 1);
    cfg.checkOneLeader();
    cfg.sleep(50);
    const term1 = cfg.checkTerms();
    expect(term1).toBeGreaterThanOrEqual(1);
    // With no failure, the term must not change.
    cfg.sleep(2 * ELECTION_TIMEOUT_MS);
    expect(cfg.checkTerms()).toBe(term1);
    cfg.checkOneLeader();
  });

  it('re-election', () => {
    const cfg = lab(3, 2);
    const leader1 = cfg.checkOneLeader();
    cfg.disconnect(leader1);
    cfg.checkOneLeader();
    cfg.connect(leader1);
    const leader2 = cfg.checkOneLeader();
    cfg.disconnect(leader2);
    cfg.disconnect((leader2 + 1) % 3);
    cfg.sleep(2 * ELECTION_TIMEOUT_MS);
    cfg.checkNoLeader();
    cfg.connect((leader2 + 1) % 3);
    cfg.checkOneLeader();
    cfg.connect(leader2);
    cfg.checkOneLeader();
  });

  it('many elections', () => {
    const cfg = lab(7, 3);
    cfg.checkOneLeader();
    const r = cfg.cluster.random;
    for (let iter = 0; iter < 10; iter++) {
      const victims = [r.int(7), r.int(7), r.int(7)];
      for (const v of victims) cfg.disconnect(v);
      cfg.checkOneLeader();
      for (const v of victims) cfg.connect(v);
    }
    cfg.checkOneLeader();
  });
});

describe('3B: log replication', () => {
  it('basic agreement', () => {
    const cfg = lab(3, 4);
    let previous = 0;
    for (let i = 1; i <= 3; i++) {
      expect(cfg.nCommitted(previous + 1).count).toBe(0);
      const index = cfg.one(i * 100, 3, false);
      expect(index).toBeGreaterThan(previous);
      previous = index;
    }
  });

  it('RPC byte count', () => {
    const cfg = lab(3, 5);
    cfg.one(99, 3, false);
    const bytes0 = cfg.bytesTotal();
    let sent = 0;
    for (let i = 0; i < 10; i++) {
      const payload = new TextEncoder().encode(String(i).repeat(5000));
      cfg.oneData(payload, 3, false);
      sent += payload.byteLength;
    }
    const got = cfg.bytesTotal() - bytes0;
    // Each command goes to each of the 2 followers once, plus a bounded overhead.
    expect(got).toBeLessThanOrEqual(sent * 2 + 50_000);
  });

  it('follower failure', () => {
    const cfg = lab(3, 6);
    cfg.one(101, 3, false);
    const leader1 = cfg.checkOneLeader();
    cfg.disconnect((leader1 + 1) % 3);
    cfg.one(102, 2, false);
    cfg.sleep(ELECTION_TIMEOUT_MS);
    cfg.one(103, 2, false);
    const leader2 = cfg.checkOneLeader();
    cfg.disconnect((leader2 + 1) % 3);
    cfg.disconnect((leader2 + 2) % 3);
    const r = cfg.start(leader2, 104);
    expect(r.isLeader).toBe(true);
    cfg.sleep(2 * ELECTION_TIMEOUT_MS);
    expect(cfg.nCommitted(r.index).count).toBe(0);
  });

  it('leader failure', () => {
    const cfg = lab(3, 7);
    cfg.one(101, 3, false);
    const leader1 = cfg.checkOneLeader();
    cfg.disconnect(leader1);
    cfg.one(102, 2, false);
    cfg.sleep(ELECTION_TIMEOUT_MS);
    cfg.one(103, 2, false);
    const leader2 = cfg.checkOneLeader();
    cfg.disconnect(leader2);
    const indices: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = cfg.start(i, 104);
      if (r.isLeader) indices.push(r.index);
    }
    cfg.sleep(2 * ELECTION_TIMEOUT_MS);
    for (const index of indices) expect(cfg.nCommitted(index).cmd).not.toBe(104);
  });

  it('fail agree', () => {
    const cfg = lab(3, 8);
    cfg.one(101, 3, false);
    const leader = cfg.checkOneLeader();
    cfg.disconnect((leader + 1) % 3);
    cfg.one(102, 2, false);
    cfg.one(103, 2, false);
    cfg.sleep(ELECTION_TIMEOUT_MS);
    cfg.one(104, 2, false);
    cfg.one(105, 2, false);
    cfg.connect((leader + 1) % 3);
    cfg.one(106, 3, true);
    cfg.sleep(ELECTION_TIMEOUT_MS);
    cfg.one(107, 3, true);
  });

  it('fail no-agree', () => {
    const cfg = lab(5, 9);
    cfg.one(10, 5, false);
    const leader = cfg.checkOneLeader();
    for (let k = 1; k <= 3; k++) cfg.disconnect((leader + k) % 5);
    const r = cfg.start(leader, 20);
    expect(r.isLeader).toBe(true);
    cfg.sleep(2 * ELECTION_TIMEOUT_MS);
    expect(cfg.nCommitted(r.index).count).toBe(0);
    for (let k = 1; k <= 3; k++) cfg.connect((leader + k) % 5);
    const leader2 = cfg.checkOneLeader();
    const r2 = cfg.start(leader2, 30);
    expect(r2.isLeader).toBe(true);
    cfg.one(1000, 5, true);
  });

  it('concurrent starts', () => {
    const cfg = lab(3, 10);
    const leader = cfg.checkOneLeader();
    const term = cfg.getState(leader).term;
    const started = [0, 1, 2, 3, 4].map((i) => ({ cmd: 100 + i, ...cfg.start(leader, 100 + i) }));
    expect(started.every((s) => s.isLeader && s.term === term)).toBe(true);
    const values = started.map((s) => cfg.wait(s.index, 3, term));
    expect(values).toEqual([100, 101, 102, 103, 104]);
  });

  it('rejoin', () => {
    const cfg = lab(3, 11);
    cfg.one(101, 3, true);
    const leader1 = cfg.checkOneLeader();
    cfg.disconnect(leader1);
    // The old leader takes commands it cannot commit.
    cfg.start(leader1, 102);
    cfg.start(leader1, 103);
    cfg.start(leader1, 104);
    cfg.one(103, 2, true);
    const leader2 = cfg.checkOneLeader();
    cfg.disconnect(leader2);
    cfg.connect(leader1);
    cfg.one(104, 2, true);
    cfg.connect(leader2);
    cfg.one(105, 3, true);
  });

  it('backup', () => {
    const cfg = lab(5, 12);
    cfg.one(cfg.cmd(), 5, true);
    const leader1 = cfg.checkOneLeader();
    for (const k of [2, 3, 4]) cfg.disconnect((leader1 + k) % 5);
    for (let i = 0; i < 50; i++) cfg.start(leader1, cfg.cmd());
    cfg.sleep(ELECTION_TIMEOUT_MS / 2);
    cfg.disconnect((leader1 + 0) % 5);
    cfg.disconnect((leader1 + 1) % 5);
    for (const k of [2, 3, 4]) cfg.connect((leader1 + k) % 5);
    for (let i = 0; i < 50; i++) cfg.one(cfg.cmd(), 3, true);
    const leader2 = cfg.checkOneLeader();
    let other = (leader1 + 2) % 5;
    if (leader2 === other) other = (leader2 + 1) % 5;
    cfg.disconnect(other);
    for (let i = 0; i < 50; i++) cfg.start(leader2, cfg.cmd());
    cfg.sleep(ELECTION_TIMEOUT_MS / 2);
    for (let i = 0; i < 5; i++) cfg.disconnect(i);
    cfg.connect((leader1 + 0) % 5);
    cfg.connect((leader1 + 1) % 5);
    cfg.connect(other);
    for (let i = 0; i < 50; i++) cfg.one(cfg.cmd(), 3, true);
    for (let i = 0; i < 5; i++) cfg.connect(i);
    cfg.one(cfg.cmd(), 5, true);
  });

  it('count', () => {
    const cfg = lab(3, 13);
    const leader = cfg.checkOneLeader();
    const total1 = cfg.rpcTotal();
    // Electing a leader takes a handful of requests, not a storm.
    expect(total1).toBeGreaterThanOrEqual(1);
    expect(total1).toBeLessThanOrEqual(30 + 3 * 20);
    const term = cfg.getState(leader).term;
    const before = cfg.rpcTotal();
    const iters = 10;
    const starts = Array.from({ length: iters }, (_, i) => cfg.start(leader, 200 + i));
    expect(starts.every((s) => s.isLeader)).toBe(true);
    for (const [i, s] of starts.entries()) expect(cfg.wait(s.index, 3, term)).toBe(200 + i);
    expect(cfg.rpcTotal() - before).toBeLessThanOrEqual((iters + 1 + 3) * 3);
    // Idle: only heartbeats, at most 10 a second per follower.
    const idle0 = cfg.rpcTotal();
    cfg.sleep(ELECTION_TIMEOUT_MS);
    expect(cfg.rpcTotal() - idle0).toBeLessThanOrEqual(3 * 20);
  });
});

describe('3C: persistence', () => {
  it('persist 1', () => {
    const cfg = lab(3, 14);
    cfg.one(11, 3, true);
    for (let i = 0; i < 3; i++) cfg.start1(i);
    for (let i = 0; i < 3; i++) {
      cfg.disconnect(i);
      cfg.connect(i);
    }
    cfg.one(12, 3, true);
    const leader1 = cfg.checkOneLeader();
    cfg.disconnect(leader1);
    cfg.start1(leader1);
    cfg.connect(leader1);
    cfg.one(13, 3, true);
    const leader2 = cfg.checkOneLeader();
    cfg.disconnect(leader2);
    const index = cfg.one(14, 2, true);
    cfg.start1(leader2);
    cfg.connect(leader2);
    cfg.wait(index, 3, -1);
    const i3 = (cfg.checkOneLeader() + 1) % 3;
    cfg.disconnect(i3);
    cfg.one(15, 2, true);
    cfg.start1(i3);
    cfg.connect(i3);
    cfg.one(16, 3, true);
  });

  it('persist 2', () => {
    const cfg = lab(5, 15);
    let index = 1;
    for (let iters = 0; iters < 5; iters++) {
      cfg.one(10 + index++, 5, true);
      const leader1 = cfg.checkOneLeader();
      cfg.disconnect((leader1 + 1) % 5);
      cfg.disconnect((leader1 + 2) % 5);
      cfg.one(10 + index++, 3, true);
      cfg.disconnect((leader1 + 0) % 5);
      cfg.disconnect((leader1 + 3) % 5);
      cfg.disconnect((leader1 + 4) % 5);
      cfg.start1((leader1 + 1) % 5);
      cfg.start1((leader1 + 2) % 5);
      cfg.connect((leader1 + 1) % 5);
      cfg.connect((leader1 + 2) % 5);
      cfg.sleep(ELECTION_TIMEOUT_MS);
      cfg.start1((leader1 + 3) % 5);
      cfg.connect((leader1 + 3) % 5);
      cfg.one(10 + index++, 3, true);
      cfg.connect((leader1 + 4) % 5);
      cfg.connect((leader1 + 0) % 5);
    }
    cfg.one(1000, 5, true);
  });

  it('persist 3', () => {
    const cfg = lab(3, 16);
    cfg.one(101, 3, true);
    const leader = cfg.checkOneLeader();
    cfg.disconnect((leader + 2) % 3);
    cfg.one(102, 2, true);
    cfg.crash1((leader + 0) % 3);
    cfg.crash1((leader + 1) % 3);
    cfg.connect((leader + 2) % 3);
    cfg.start1((leader + 0) % 3);
    cfg.connect((leader + 0) % 3);
    cfg.one(103, 2, true);
    cfg.start1((leader + 1) % 3);
    cfg.connect((leader + 1) % 3);
    cfg.one(104, 3, true);
  });

  it('Figure 8', () => {
    const cfg = lab(5, 17);
    const r = cfg.cluster.random;
    cfg.one(cfg.cmd(), 1, true);
    let nup = 5;
    for (let iters = 0; iters < 1000; iters++) {
      let leader = -1;
      for (let i = 0; i < 5; i++) {
        if (cfg.cluster.isUp(cfg.id(i)) && cfg.start(i, cfg.cmd()).isLeader) leader = i;
      }
      cfg.sleep(r.int(1000) < 100 ? r.int(ELECTION_TIMEOUT_MS / 2) : r.int(13));
      if (leader !== -1) {
        cfg.crash1(leader);
        nup--;
      }
      if (nup < 3) {
        const s = r.int(5);
        if (!cfg.cluster.isUp(cfg.id(s))) {
          cfg.start1(s);
          cfg.connect(s);
          nup++;
        }
      }
    }
    for (let i = 0; i < 5; i++) {
      if (!cfg.cluster.isUp(cfg.id(i))) {
        cfg.start1(i);
        cfg.connect(i);
      }
    }
    cfg.one(cfg.cmd(), 5, true);
  });

  it('unreliable agreement', () => {
    const cfg = lab(5, 18, { reliable: false });
    for (let iters = 1; iters < 50; iters++) {
      for (let j = 0; j < 4; j++) cfg.one(100 * iters + j, 1, true);
      cfg.one(iters, 1, true);
    }
    cfg.setUnreliable(false);
    cfg.one(100, 5, true);
  });

  it('Figure 8 unreliable', () => {
    const cfg = lab(5, 19, { reliable: false });
    const r = cfg.cluster.random;
    cfg.one(cfg.cmd(), 1, true);
    let nup = 5;
    for (let iters = 0; iters < 1000; iters++) {
      let leader = -1;
      for (let i = 0; i < 5; i++) {
        if (cfg.isConnected(i) && cfg.start(i, cfg.cmd()).isLeader) leader = i;
      }
      cfg.sleep(r.int(1000) < 100 ? r.int(ELECTION_TIMEOUT_MS / 2) : r.int(13));
      if (leader !== -1 && r.int(1000) < ELECTION_TIMEOUT_MS / 2) {
        cfg.disconnect(leader);
        nup--;
      }
      if (nup < 3) {
        const s = r.int(5);
        if (!cfg.isConnected(s)) {
          cfg.connect(s);
          nup++;
        }
      }
    }
    for (let i = 0; i < 5; i++) if (!cfg.isConnected(i)) cfg.connect(i);
    cfg.setUnreliable(false);
    cfg.one(cfg.cmd(), 5, true);
  });

  /** The lab's internalChurn: clients submit while servers are disconnected, crashed and restarted. */
  function churn(unreliable: boolean, seed: number): void {
    const cfg = lab(5, seed, { reliable: !unreliable });
    const r = cfg.cluster.random;
    const pending: { index: number; cmd: number }[] = [];
    const committed: { index: number; cmd: number }[] = [];
    const clientRound = (): void => {
      for (let client = 0; client < 3; client++) {
        const cmd = cfg.cmd();
        for (let i = 0; i < 5; i++) {
          if (!cfg.cluster.isUp(cfg.id(i))) continue;
          const s = cfg.start(i, cmd);
          if (s.isLeader) {
            pending.push({ index: s.index, cmd });
            break;
          }
        }
      }
    };
    for (let iters = 0; iters < 20; iters++) {
      const roll = r.int(1000);
      const i = r.int(5);
      if (roll < 200) cfg.disconnect(i);
      else if (roll < 500) {
        if (!cfg.cluster.isUp(cfg.id(i))) cfg.start1(i);
        cfg.connect(i);
      } else if (roll < 700) cfg.crash1(i);
      // The lab sleeps 0.7 election timeouts per round while its clients keep submitting.
      for (let t = 0; t < 7; t++) {
        clientRound();
        cfg.sleep(ELECTION_TIMEOUT_MS / 10);
      }
    }
    cfg.sleep(ELECTION_TIMEOUT_MS);
    cfg.setUnreliable(false);
    for (let i = 0; i < 5; i++) {
      if (!cfg.cluster.isUp(cfg.id(i))) cfg.start1(i);
      cfg.connect(i);
    }
    const last = cfg.one(cfg.cmd(), 5, true);
    for (const p of pending) if (p.index <= last && cfg.nCommitted(p.index).cmd === p.cmd) committed.push(p);
    expect(committed.length).toBeGreaterThan(0);
    for (const c of committed) expect(cfg.wait(c.index, 5, -1)).toBe(c.cmd);
  }

  it('reliable churn', () => churn(false, 20));

  it('unreliable churn', () => churn(true, 21));
});

describe('3D: log compaction', () => {
  /** The lab's snapcommon. */
  function snapCommon(seed: number, disconnect: boolean, reliable: boolean, crash: boolean): void {
    const servers = 3;
    const cfg = lab(servers, seed, { reliable, snapshot: true });
    const r = cfg.cluster.random;
    cfg.one(cfg.cmd(), servers, true);
    let leader1 = cfg.checkOneLeader();
    for (let i = 0; i < 30; i++) {
      let victim = (leader1 + 1) % servers;
      let sender = leader1;
      if (i % 3 === 1) {
        sender = (leader1 + 1) % servers;
        victim = leader1;
      }
      if (disconnect) {
        cfg.disconnect(victim);
        cfg.one(cfg.cmd(), servers - 1, true);
      }
      if (crash) {
        cfg.crash1(victim);
        cfg.one(cfg.cmd(), servers - 1, true);
      }
      // Enough to cause a snapshot.
      const nn = SNAPSHOT_INTERVAL / 2 + r.int(SNAPSHOT_INTERVAL);
      for (let k = 0; k < nn; k++) cfg.start(sender, cfg.cmd());
      if (!disconnect && !crash) cfg.one(cfg.cmd(), servers, true);
      else cfg.one(cfg.cmd(), servers - 1, true);
      // The log is bounded by snapshots (the lab's MAXLOGSIZE).
      expect(cfg.maxLogEntries()).toBeLessThanOrEqual(8 * SNAPSHOT_INTERVAL);
      if (disconnect) {
        // The victim is now far behind the leader's first index: it needs InstallSnapshot.
        cfg.connect(victim);
        cfg.one(cfg.cmd(), servers, true);
        leader1 = cfg.checkOneLeader();
      }
      if (crash) {
        cfg.start1(victim);
        cfg.connect(victim);
        cfg.one(cfg.cmd(), servers, true);
        leader1 = cfg.checkOneLeader();
      }
    }
    if (disconnect) expect(cfg.cluster.snapshotsInstalled).toBeGreaterThan(0);
  }

  it('snapshot basic', () => snapCommon(22, false, true, false));

  it('snapshot install', () => snapCommon(23, true, true, false));

  it('snapshot install unreliable', () => snapCommon(24, true, false, false));

  it('snapshot install crash', () => snapCommon(25, false, true, true));

  it('snapshot install uncrash', () => snapCommon(26, false, false, true));

  it('snapshot all crash', () => {
    const servers = 3;
    const cfg = lab(servers, 27, { snapshot: true });
    const r = cfg.cluster.random;
    cfg.one(cfg.cmd(), servers, true);
    for (let i = 0; i < 5; i++) {
      const nn = SNAPSHOT_INTERVAL / 2 + r.int(SNAPSHOT_INTERVAL);
      for (let k = 0; k < nn; k++) cfg.one(cfg.cmd(), servers, true);
      const index1 = cfg.one(cfg.cmd(), servers, true);
      for (let k = 0; k < servers; k++) cfg.crash1(k);
      for (let k = 0; k < servers; k++) {
        cfg.start1(k);
        cfg.connect(k);
      }
      const index2 = cfg.one(cfg.cmd(), servers, true);
      expect(index2).toBeGreaterThan(index1);
    }
  });

  it('snapshot init', () => {
    const servers = 3;
    const cfg = lab(servers, 28, { snapshot: true });
    cfg.one(cfg.cmd(), servers, true);
    for (let i = 0; i < SNAPSHOT_INTERVAL + 1; i++) cfg.one(cfg.cmd(), servers, true);
    const restartAll = (): void => {
      for (let k = 0; k < servers; k++) cfg.crash1(k);
      for (let k = 0; k < servers; k++) {
        cfg.start1(k);
        cfg.connect(k);
      }
    };
    restartAll();
    cfg.one(cfg.cmd(), servers, true);
    // Restarting again checks that a server that restored from a snapshot persisted it correctly.
    restartAll();
    cfg.one(cfg.cmd(), servers, true);
    for (let k = 0; k < servers; k++) expect(cfg.cluster.status(cfg.id(k))?.snapshotIndex).toBeGreaterThan(0);
  });
});
