import type { Model } from './model.js';

/** What the search needs of an operation: its interval on the shared clock (`return: null` = unknown). */
export interface TimedOperation {
  call: number;
  return: number | null;
}

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface SearchOptions {
  /** Give up with verdict `unknown` once `now()` passes this (same clock as `now`). */
  deadline?: number;
  /** The clock the deadline is read on; `performance.now` unless a test injects one. */
  now?: () => number;
}

export interface SearchResult<Op> {
  verdict: Verdict;
  /**
   * When linearizable, the operations that took effect, in a legal order (operations of unknown
   * outcome that are left out never took effect). Otherwise the longest legal prefix the search
   * reached: the operations just after it are where the history goes wrong.
   */
  order: Op[];
  /** Calls of `Model.step`: the measure of the work done. */
  steps: number;
  /** Distinct (linearized set, state) configurations memoized. */
  memoEntries: number;
}

/** One end of an operation in the time-ordered, doubly linked list the search lifts entries out of. */
interface Entry {
  readonly id: number;
  readonly isCall: boolean;
  readonly time: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

interface Frame<State> {
  entry: Entry;
  state: State;
  stateId: number;
}

/** How many loop iterations pass between two reads of the clock; reading it costs more than a step. */
const clockCheckIterations = 1024;

/**
 * Decides whether `operations` (one partition: one key, one register) are linearizable with respect to
 * `model`, by Wing & Gong's search for linearization points with Lowe's memoization, the algorithm of
 * Lowe's "Testing for linearizability" (2017) and of porcupine.
 *
 * The operations' calls and returns form one list in time order. Scanning from its head, the search
 * tries to linearize each call it meets: if the model accepts the operation in the current state and
 * the resulting configuration (set of linearized operations, model state) was never reached before, it
 * lifts the operation's call and return out of the list, pushes it, and starts again from the head.
 * Meeting a return means that operation's last chance has passed: pop the last linearized operation,
 * put it back, and try the call after it instead. The memo is what makes this practical: a
 * configuration fully determines what can follow, so each is explored once.
 *
 * Operations of unknown outcome have no return entry: they may be linearized anywhere after their call,
 * or be left in the list, which means they never took effect. Reaching the end of the list therefore
 * means success: only such operations can be left in it.
 */
export function searchLinearization<State, Op extends TimedOperation>(
  model: Model<State, Op>,
  operations: readonly Op[],
  options: SearchOptions = {},
): SearchResult<Op> {
  const ops = operations.filter((op) => model.matters(op));
  const head = buildEntryList(ops);
  const now = options.now ?? (() => performance.now());
  const { deadline } = options;

  const zobrist = randomWords(ops.length, 0x2545f491);
  const bits = new Uint32Array(Math.ceil(ops.length / 32) || 1);
  let bitsHash = 0;
  const memo = new Memo();
  const states = new StateInterner<State>(model);

  let state = model.init;
  let stateId = states.idOf(state);
  const stack: Frame<State>[] = [];
  let longest: number[] = [];
  let steps = 0;
  let iterations = 0;
  let entry = head.next;

  const orderOf = (ids: readonly number[]): Op[] => ids.map((id) => ops[id] as Op);
  const result = (verdict: Verdict, ids: readonly number[]): SearchResult<Op> => ({
    verdict,
    order: orderOf(ids),
    steps,
    memoEntries: memo.size,
  });

  for (;;) {
    if (entry === null) {
      return result(
        'linearizable',
        stack.map((frame) => frame.entry.id),
      );
    }
    iterations++;
    if (deadline !== undefined && iterations % clockCheckIterations === 0 && now() > deadline) {
      return result('unknown', longest);
    }
    if (entry.isCall) {
      const id = entry.id;
      steps++;
      const next = model.step(state, ops[id] as Op);
      if (next !== undefined) {
        const nextId = states.idOf(next);
        const word = id >>> 5;
        const mask = 1 << (id & 31);
        bits[word] = (bits[word] ?? 0) | mask;
        bitsHash ^= zobrist[id] ?? 0;
        if (memo.add(bits, (bitsHash ^ states.mix(nextId)) >>> 0, nextId)) {
          stack.push({ entry, state, stateId });
          state = next;
          stateId = nextId;
          lift(entry);
          if (stack.length > longest.length) longest = stack.map((frame) => frame.entry.id);
          entry = head.next;
          continue;
        }
        bits[word] = (bits[word] ?? 0) & ~mask;
        bitsHash ^= zobrist[id] ?? 0;
      }
      entry = entry.next;
    } else {
      const frame = stack.pop();
      if (frame === undefined) return result('not-linearizable', longest);
      const id = frame.entry.id;
      bits[id >>> 5] = (bits[id >>> 5] ?? 0) & ~(1 << (id & 31));
      bitsHash ^= zobrist[id] ?? 0;
      state = frame.state;
      stateId = frame.stateId;
      unlift(frame.entry);
      entry = frame.entry.next;
    }
  }
}

/** The list's sentinel head. Calls sort before returns at equal times: touching intervals overlap. */
function buildEntryList(ops: readonly TimedOperation[]): Entry {
  const entries: Entry[] = [];
  ops.forEach((op, id) => {
    const call: Entry = { id, isCall: true, time: op.call, match: null, prev: null, next: null };
    entries.push(call);
    if (op.return !== null) {
      const ret: Entry = { id, isCall: false, time: op.return, match: null, prev: null, next: null };
      call.match = ret;
      entries.push(ret);
    }
  });
  entries.sort((a, b) => a.time - b.time || Number(a.isCall ? 0 : 1) - Number(b.isCall ? 0 : 1) || a.id - b.id);
  const head: Entry = { id: -1, isCall: false, time: -Infinity, match: null, prev: null, next: null };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

function unlink(e: Entry): void {
  // Every entry follows the sentinel, so prev is never null once linked.
  (e.prev as Entry).next = e.next;
  if (e.next !== null) e.next.prev = e.prev;
}

function relink(e: Entry): void {
  (e.prev as Entry).next = e;
  if (e.next !== null) e.next.prev = e;
}

/** Removes an operation's call and return; `unlift` must undo lifts in reverse order (dancing links). */
function lift(call: Entry): void {
  unlink(call);
  if (call.match !== null) unlink(call.match);
}

function unlift(call: Entry): void {
  if (call.match !== null) relink(call.match);
  relink(call);
}

/** Maps states to small integers so that the memo compares integers, not states. */
class StateInterner<State> {
  private readonly ids = new Map<string | number | null, number>();
  private readonly mixes: number[] = [];
  private readonly random = splitmix32(0x9e3779b9);

  constructor(private readonly model: Model<State, unknown>) {}

  idOf(state: State): number {
    const key = this.model.stateKey(state);
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.mixes.length;
      this.ids.set(key, id);
      this.mixes.push(this.random());
    }
    return id;
  }

  /** A random word per state, XORed into the Zobrist hash of the linearized set. */
  mix(id: number): number {
    return this.mixes[id] ?? 0;
  }
}

/** The set of configurations reached: hash buckets holding (bitset copy, state id). */
class Memo {
  private readonly buckets = new Map<number, { bits: Uint32Array; stateId: number }[]>();
  size = 0;

  /** Adds the configuration; false when it was already there. */
  add(bits: Uint32Array, hash: number, stateId: number): boolean {
    let bucket = this.buckets.get(hash);
    if (bucket === undefined) {
      bucket = [];
      this.buckets.set(hash, bucket);
    } else {
      for (const seen of bucket) {
        if (seen.stateId === stateId && sameBits(seen.bits, bits)) return false;
      }
    }
    bucket.push({ bits: bits.slice(), stateId });
    this.size++;
    return true;
  }
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Fixed-seed words for Zobrist hashing: deterministic, so runs (and their step counts) repeat exactly. */
function randomWords(count: number, seed: number): Uint32Array {
  const next = splitmix32(seed);
  const words = new Uint32Array(count);
  for (let i = 0; i < count; i++) words[i] = next();
  return words;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}
