import type { NodeId } from '../types.js';
import { Cluster, type ClusterOptions } from './cluster.js';
import { reliableNetwork, unreliableNetwork } from './network.js';

/** The lab's tolerance for electing a leader after a failure. */
export const ELECTION_TIMEOUT_MS = 1000;

/**
 * The test configuration of the MIT 6.5840 Raft lab (config.go), on the simulator's virtual time:
 * servers are numbered 0..n-1, commands are integers, and the helpers keep the lab's names and meaning.
 */
export class LabHarness {
  readonly cluster: Cluster;
  readonly n: number;
  private readonly ids: NodeId[];
  private readonly connected: boolean[];
  private cmdSeq = 0;

  constructor(
    n: number,
    options: { seed: number; reliable?: boolean; snapshotEveryEntries?: number } & Partial<ClusterOptions>,
  ) {
    this.n = n;
    this.ids = Array.from({ length: n }, (_, i) => `s${i}`);
    this.connected = this.ids.map(() => true);
    this.cluster = new Cluster({
      ids: this.ids,
      network: options.reliable === false ? unreliableNetwork : reliableNetwork,
      ...options,
    });
  }

  id(i: number): NodeId {
    return this.ids[i]!;
  }

  index(id: NodeId): number {
    return this.ids.indexOf(id);
  }

  setUnreliable(unreliable: boolean): void {
    this.cluster.network = unreliable ? unreliableNetwork : reliableNetwork;
  }

  /** A fresh command, distinct from every other in the run (the lab uses random ints). */
  cmd(): number {
    return 1000 + this.cmdSeq++ * 7 + this.cluster.random.int(7);
  }

  sleep(ms: number): void {
    this.cluster.runFor(ms);
  }

  disconnect(i: number): void {
    this.connected[i] = false;
    this.cluster.disconnect(this.id(i));
  }

  connect(i: number): void {
    this.connected[i] = true;
    this.cluster.connect(this.id(i));
  }

  isConnected(i: number): boolean {
    return this.connected[i]!;
  }

  /** The lab's crash1: disconnect and kill; state survives only as persisted. */
  crash1(i: number): void {
    this.disconnect(i);
    this.cluster.crash(this.id(i));
  }

  /** The lab's start1: a new server from the persisted state, still disconnected. */
  start1(i: number): void {
    this.cluster.restart(this.id(i));
  }

  /** Start(command) on server i: index, term and whether it is the leader. */
  start(i: number, cmd: number): { index: number; term: number; isLeader: boolean } {
    const r = this.cluster.propose(this.id(i), encodeCmd(cmd));
    const s = this.cluster.status(this.id(i));
    return r.ok
      ? { index: r.index, term: r.term, isLeader: true }
      : { index: -1, term: s?.term ?? 0, isLeader: false };
  }

  getState(i: number): { term: number; isLeader: boolean } {
    const s = this.cluster.status(this.id(i));
    return { term: s?.term ?? 0, isLeader: s?.role === 'leader' };
  }

  /** Exactly one leader among connected servers, found within the lab's time; returns its number. */
  checkOneLeader(): number {
    for (let iter = 0; iter < 10; iter++) {
      this.sleep(450 + this.cluster.random.int(100));
      const byTerm = new Map<number, number[]>();
      for (let i = 0; i < this.n; i++) {
        if (!this.connected[i] || !this.cluster.isUp(this.id(i))) continue;
        const { term, isLeader } = this.getState(i);
        if (isLeader) byTerm.set(term, [...(byTerm.get(term) ?? []), i]);
      }
      let last = -1;
      for (const [term, leaders] of byTerm) {
        if (leaders.length > 1) throw new Error(`term ${term} has ${leaders.length} (>1) leaders`);
        last = Math.max(last, term);
      }
      if (byTerm.size > 0) return byTerm.get(last)![0]!;
    }
    throw new Error('expected one leader, got none');
  }

  /** Every connected server agrees on the term. */
  checkTerms(): number {
    let term = -1;
    for (let i = 0; i < this.n; i++) {
      if (!this.connected[i]) continue;
      const t = this.getState(i).term;
      if (term === -1) term = t;
      else if (term !== t) throw new Error('servers disagree on term');
    }
    return term;
  }

  checkNoLeader(): void {
    for (let i = 0; i < this.n; i++) {
      if (this.connected[i] && this.getState(i).isLeader)
        throw new Error(`expected no leader among connected servers, but ${i} claims to be leader`);
    }
  }

  /** How many servers think the entry at `index` is committed (applied), and its command. */
  nCommitted(index: number): { count: number; cmd: number | null } {
    const { count, data } = this.nCommittedData(index);
    return { count, cmd: data === null ? null : Number(data) };
  }

  private nCommittedData(index: number): { count: number; data: string | null } {
    let count = 0;
    let data: string | null = null;
    for (const id of this.ids) {
      const e = this.cluster.appliedAt(id, index);
      if (!e || e.type !== 'normal') continue;
      const c = new TextDecoder().decode(e.data);
      if (count > 0 && data !== c) throw new Error(`committed values do not match: index ${index}`);
      count++;
      data = c;
    }
    return { count, data };
  }

  /**
   * The lab's one(): submit `cmd` to whichever server is leader, retrying, until `expectedServers`
   * have committed it; returns its index.
   */
  one(cmd: number, expectedServers: number, retry: boolean): number {
    return this.oneData(encodeCmd(cmd), expectedServers, retry);
  }

  /** one() with an arbitrary payload. */
  oneData(data: Uint8Array, expectedServers: number, retry: boolean): number {
    const cmd = new TextDecoder().decode(data);
    const deadline = this.cluster.now + 10_000;
    let starts = 0;
    while (this.cluster.now < deadline) {
      let index = -1;
      for (let si = 0; si < this.n; si++) {
        starts = (starts + 1) % this.n;
        if (!this.connected[starts] || !this.cluster.isUp(this.id(starts))) continue;
        const r = this.cluster.propose(this.id(starts), data);
        if (r.ok) {
          index = r.index;
          break;
        }
      }
      if (index !== -1) {
        const t1 = this.cluster.now;
        while (this.cluster.now - t1 < 2000) {
          const { count, data: got } = this.nCommittedData(index);
          if (count > 0 && count >= expectedServers && got === cmd) return index;
          this.sleep(20);
        }
        if (!retry) throw new Error(`one(${cmd}) failed to reach agreement`);
      } else {
        this.sleep(50);
      }
    }
    throw new Error(`one(${cmd}) failed to reach agreement`);
  }

  /** Waits for at least n servers to commit index, giving up if the term moves on. */
  wait(index: number, n: number, startTerm: number): number | null {
    let to = 10;
    for (let iters = 0; iters < 30; iters++) {
      if (this.nCommitted(index).count >= n) break;
      this.sleep(to);
      if (to < 1000) to *= 2;
      if (startTerm > -1) {
        for (let i = 0; i < this.n; i++) if (this.getState(i).term > startTerm) return null;
      }
    }
    const { count, cmd } = this.nCommitted(index);
    if (count < n) throw new Error(`only ${count} decided for index ${index}; wanted ${n}`);
    return cmd;
  }

  /** Requests sent so far (the lab's RPC count: a call and its reply count once). */
  rpcTotal(): number {
    return this.cluster.requestsSent;
  }

  bytesTotal(): number {
    return this.cluster.bytesSent;
  }

  /** Entries held in memory after the last snapshot, on the largest server (the lab's log size bound). */
  maxLogEntries(): number {
    let max = 0;
    for (const id of this.ids) {
      const s = this.cluster.status(id);
      if (s) max = Math.max(max, s.lastIndex - s.snapshotIndex);
    }
    return max;
  }
}

export function encodeCmd(cmd: number): Uint8Array {
  return new TextEncoder().encode(String(cmd));
}
