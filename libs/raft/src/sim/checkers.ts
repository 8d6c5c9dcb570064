import { applyConfEntry, decodeConfEntry } from '../core/conf.js';
import type { ConfState, Entry, NodeId } from '../types.js';

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
    this.name = 'InvariantViolation';
  }
}

/** What the checkers may see of a node. */
export interface NodeView {
  readonly id: NodeId;
  readonly up: boolean;
  role(): string;
  term(): number;
  termAt(index: number): number | undefined;
  snapshotIndex(): number;
  commitIndex(): number;
  /** Durable state as recovery would find it: does it hold (index, term)? */
  durablyHolds(index: number, term: number): boolean;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The safety properties of Raft (Figure 3), checked as the simulation runs:
 * - Election Safety: at most one leader per term.
 * - Log Matching: two logs holding an entry of the same index and term are identical up to it. Checked
 *   inductively as entries are persisted: same (index, term) means same payload and same previous term.
 * - Leader Completeness: a new leader holds every entry committed before its term.
 * - State Machine Safety: no two nodes apply different entries at the same index.
 * - Durability: every committed entry stays on a majority of durable logs or snapshots, across crashes.
 */
export class Checkers {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly byIndexTerm = new Map<string, { entry: Entry; prevTerm: number }>();
  private readonly applied = new Map<number, Entry>();
  /** Term of every index known committed. */
  private readonly committedTerm = new Map<number, number>();
  maxCommitted = 0;
  checks = 0;
  /** The latest configuration entry known committed (applied somewhere), with its position. */
  committedConf: { index: number; term: number; conf: ConfState } = {
    index: 0,
    term: 0,
    conf: { voters: [], learners: [] },
  };

  /** After every event. */
  observe(nodes: readonly NodeView[]): void {
    this.checks++;
    for (const n of nodes) {
      if (!n.up) continue;
      const commit = n.commitIndex();
      if (commit > this.maxCommitted) {
        for (let i = this.maxCommitted + 1; i <= commit; i++) {
          const t = n.termAt(i);
          if (t !== undefined) this.noteCommitted(i, t, n.id);
        }
        this.maxCommitted = commit;
      }
      if (n.role() !== 'leader') continue;
      const term = n.term();
      const known = this.leaderOfTerm.get(term);
      if (known === undefined) {
        this.leaderOfTerm.set(term, n.id);
        this.checkLeaderCompleteness(n);
      } else if (known !== n.id) {
        throw new InvariantViolation('election safety', `term ${term} has leaders ${known} and ${n.id}`);
      }
    }
  }

  private noteCommitted(index: number, term: number, by: NodeId): void {
    const prev = this.committedTerm.get(index);
    if (prev !== undefined && prev !== term) {
      throw new InvariantViolation(
        'committed entry lost',
        `index ${index} committed in term ${prev}, ${by} has ${term}`,
      );
    }
    this.committedTerm.set(index, term);
  }

  private checkLeaderCompleteness(n: NodeView): void {
    for (let i = Math.max(1, n.snapshotIndex() + 1); i <= this.maxCommitted; i++) {
      const want = this.committedTerm.get(i);
      if (want === undefined) continue;
      const have = n.termAt(i);
      if (have !== want) {
        throw new InvariantViolation(
          'leader completeness',
          `${n.id} leads term ${n.term()} but holds term ${have} at committed index ${i} (term ${want})`,
        );
      }
    }
  }

  /** When a node hands entries to its disk. */
  onPersist(id: NodeId, entries: readonly Entry[], prevTermOf: (index: number) => number | undefined): void {
    for (const e of entries) {
      const key = `${e.index}:${e.term}`;
      const prevTerm = prevTermOf(e.index - 1) ?? -1;
      const seen = this.byIndexTerm.get(key);
      if (!seen) {
        this.byIndexTerm.set(key, { entry: e, prevTerm });
        continue;
      }
      if (seen.entry.type !== e.type || !sameBytes(seen.entry.data, e.data)) {
        throw new InvariantViolation('log matching', `${id} holds a different entry at ${key}`);
      }
      if (seen.prevTerm !== -1 && prevTerm !== -1 && seen.prevTerm !== prevTerm) {
        throw new InvariantViolation(
          'log matching',
          `${id} holds ${key} after term ${prevTerm}, another node after term ${seen.prevTerm}`,
        );
      }
    }
  }

  /** When a node applies an entry to its state machine. */
  onApply(id: NodeId, e: Entry): void {
    const seen = this.applied.get(e.index);
    if (!seen) {
      this.applied.set(e.index, e);
      this.noteCommitted(e.index, e.term, id);
      // First applications happen in index order (each node applies in order), so this tracks the
      // committed configuration exactly.
      if (e.type === 'config') {
        const conf = applyConfEntry(this.committedConf.conf, decodeConfEntry(e.data));
        this.committedConf = { index: e.index, term: e.term, conf };
      }
      return;
    }
    if (seen.term !== e.term || seen.type !== e.type || !sameBytes(seen.data, e.data)) {
      throw new InvariantViolation(
        'state machine safety',
        `${id} applied term ${e.term} at index ${e.index}, another node applied term ${seen.term}`,
      );
    }
  }

  /**
   * After a crash: no quorum of any configuration in play may be without a durable copy of a committed
   * entry (else that quorum could elect a leader lacking it). Put as counts: for every configuration,
   * the voters without the entry are fewer than a quorum. During a single-server change this holds for
   * both the old and the new configuration (their quorums overlap, thesis §4.1).
   */
  checkDurability(configs: readonly { voters: readonly NodeView[]; quorum: number }[], window: number): void {
    const from = Math.max(1, this.maxCommitted - window + 1);
    for (let i = from; i <= this.maxCommitted; i++) {
      const term = this.committedTerm.get(i);
      if (term === undefined) continue;
      for (const { voters, quorum } of configs) {
        const without = voters.filter((v) => !v.durablyHolds(i, term)).map((v) => v.id);
        if (without.length >= quorum) {
          throw new InvariantViolation(
            'committed entry lost',
            `index ${i} (term ${term}) is missing from the durable state of ${without.join(',')}, a quorum of ${voters.length}`,
          );
        }
      }
    }
  }

  committedTermAt(index: number): number | undefined {
    return this.committedTerm.get(index);
  }

  appliedEntry(index: number): Entry | undefined {
    return this.applied.get(index);
  }
}
