import type { Entry } from '../types.js';

/**
 * The in-memory view of the Raft log: a snapshot prefix (index and term only) followed by the entries
 * not yet compacted. Tracks three cursors, all in log indices:
 * - `unstableFrom`: the first entry not yet handed to the driver for persisting (it goes out in `ready()`).
 * - `committed`: known committed (Raft Figure 2 "commitIndex").
 * - `applying`: the last entry handed to the driver for applying (Figure 2 "lastApplied", as handed out).
 * Invariant: snapshotIndex <= applying <= committed <= lastIndex.
 */
export class RaftLog {
  private entries: Entry[] = [];
  snapshotIndex: number;
  snapshotTerm: number;
  committed: number;
  applying: number;
  unstableFrom: number;

  constructor(snapshotIndex: number, snapshotTerm: number, entries: readonly Entry[], committed: number) {
    this.snapshotIndex = snapshotIndex;
    this.snapshotTerm = snapshotTerm;
    for (const [i, e] of entries.entries()) {
      if (e.index !== snapshotIndex + 1 + i) throw new Error(`log: entry ${e.index} out of sequence`);
    }
    this.entries = [...entries];
    this.committed = Math.max(snapshotIndex, Math.min(committed, this.lastIndex()));
    this.applying = snapshotIndex;
    this.unstableFrom = this.lastIndex() + 1;
  }

  firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): number {
    return this.entries.at(-1)?.term ?? this.snapshotTerm;
  }

  /** The term of the entry at `index`, or undefined when compacted away or beyond the end. */
  termAt(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    return this.entries[index - this.snapshotIndex - 1]?.term;
  }

  entryAt(index: number): Entry | undefined {
    return this.entries[index - this.snapshotIndex - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.termAt(index) === term;
  }

  /** Raft §5.4.1: the voter's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Appends at the end (leader). */
  append(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.index !== this.lastIndex() + 1)
        throw new Error(`log: append ${e.index} after ${this.lastIndex()}`);
      this.entries.push(e);
    }
  }

  /**
   * Follower side of AppendEntries (Figure 2, receiver rules 3 and 4): skip entries already present,
   * truncate at the first conflict, append the rest. Returns the index truncated at (or undefined).
   * Never truncates committed entries: that would mean the leader broke Leader Completeness.
   */
  appendFromLeader(entries: readonly Entry[]): number | undefined {
    let truncatedAt: number | undefined;
    for (const e of entries) {
      if (e.index <= this.snapshotIndex) continue;
      const existing = this.termAt(e.index);
      if (existing === e.term) continue;
      if (existing !== undefined) {
        if (e.index <= this.committed) {
          throw new Error(`log: conflict at committed index ${e.index} (committed ${this.committed})`);
        }
        this.entries.length = e.index - this.snapshotIndex - 1;
        this.unstableFrom = Math.min(this.unstableFrom, e.index);
        truncatedAt ??= e.index;
      }
      if (e.index !== this.lastIndex() + 1) throw new Error(`log: gap before ${e.index}`);
      this.entries.push(e);
    }
    return truncatedAt;
  }

  /** First index of the run of entries with the same term as `index` (fast backtracking hint). */
  firstIndexOfTerm(index: number): number {
    const term = this.termAt(index);
    let i = index;
    while (i - 1 > this.snapshotIndex && this.termAt(i - 1) === term) i--;
    return i;
  }

  /** The last index whose term is `term`, or undefined when the log holds no entry of that term. */
  lastIndexOfTerm(term: number): number | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.term === term) return e.index;
      if (e.term < term) return undefined;
    }
    return this.snapshotTerm === term ? this.snapshotIndex : undefined;
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    if (index > this.lastIndex()) throw new Error(`log: commit ${index} beyond last ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** Entries in [lo, hi] limited by count and bytes; at least one entry when any is in range. */
  slice(lo: number, hi: number, maxCount = Infinity, maxBytes = Infinity): Entry[] {
    if (lo <= this.snapshotIndex)
      throw new Error(`log: slice ${lo} is compacted (first ${this.firstIndex()})`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= Math.min(hi, this.lastIndex()) && out.length < maxCount; i++) {
      const e = this.entryAt(i)!;
      bytes += e.data.byteLength;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  takeUnstable(): Entry[] {
    if (this.unstableFrom > this.lastIndex()) return [];
    const out = this.slice(Math.max(this.unstableFrom, this.firstIndex()), this.lastIndex());
    this.unstableFrom = this.lastIndex() + 1;
    return out;
  }

  hasUnstable(): boolean {
    return this.unstableFrom <= this.lastIndex();
  }

  takeCommitted(maxCount: number): Entry[] {
    if (this.committed <= this.applying) return [];
    const out = this.slice(this.applying + 1, this.committed, maxCount);
    this.applying = out.at(-1)?.index ?? this.applying;
    return out;
  }

  /** Drops entries at or below `index` (an applied snapshot covers them). */
  compact(index: number): void {
    if (index <= this.snapshotIndex) return;
    if (index > this.applying) throw new Error(`log: compact ${index} beyond applied ${this.applying}`);
    const term = this.termAt(index)!;
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotTerm = term;
  }

  /** Replaces the whole log by a snapshot received from the leader (the log did not contain its last entry). */
  restore(index: number, term: number): void {
    this.entries = [];
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.committed = index;
    this.applying = index;
    this.unstableFrom = index + 1;
  }

  /** Entries after `after` (for the invariant checkers and tests). */
  entriesAfter(after: number): readonly Entry[] {
    return this.entries.slice(Math.max(0, after - this.snapshotIndex));
  }
}
