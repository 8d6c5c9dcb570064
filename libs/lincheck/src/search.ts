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
   * reached (by operations of known outcome): the operations just after it are where it goes wrong.
   */
  order: Op[];
  /** Calls of `Model.step`: the measure of the work done. */
  steps: number;
  /** Configurations memoized. */
  memoEntries: number;
}

/** One end of an operation in the time-ordered, doubly linked list the search lifts entries out of. */
interface Entry {
  readonly id: number;
  readonly isCall: boolean;
  /** Index among operations of known outcome, or among those of unknown outcome. */
  slot: number;
  readonly time: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

/**
 * A configuration reached from its frame's own by applying operations of unknown outcome only.
 * `unknown` says which of those were used so far on the whole path, class by class (see `Usage`;
 * never mutated: shared by children).
 */
interface Item<State> {
  state: State;
  stateId: number;
  unknown: Uint32Array;
  parent: number;
  /** The unknown-outcome operation applied to `parent` to get here; -1 for the frame's first item. */
  opId: number;
}

/** A configuration whose next step is an operation of known outcome, with the search's place in it. */
interface Frame<State> {
  /** The operation of known outcome linearized to get here; null at the root. */
  lifted: Entry | null;
  /** items[0] is the frame's configuration; the rest extend it by batches of unknown outcomes. */
  items: Item<State>[];
  /** How many items have had their successors added (see `grow`). */
  grown: number;
  /** The time of the first remaining return: operations of unknown outcome called by then may go next. */
  horizon: number;
  /** Calls of known outcome that may go next: their call precedes every remaining return. */
  candidates: Entry[];
  /** The operations placed to reach this frame, for reporting. */
  path: PathNode | null;
  /** The highest slot of a known operation placed here: the last called by `horizon`. */
  lastSlot: number;
  itemIndex: number;
  candidateIndex: number;
}

type StateKey = string | number | null;

/** Configurations per memo generation: two generations of 500,000 stay well inside a 1 GiB heap. */
const memoGenerationEntries = 500_000;

/** How far `dead` looks ahead in the list of calls and returns. */
const lookaheadEntries = 128;

/** How many model steps pass between two reads of the clock; reading it costs more than a step. */
const clockCheckSteps = 1024;

/**
 * Decides whether `operations` (one partition: one key, one register) are linearizable with respect to
 * `model`: Wing & Gong's search for linearization points with the memoization of Lowe's "Testing for
 * linearizability" (2017), as in porcupine, extended for operations of unknown outcome.
 *
 * Calls and returns form one list in time order. An operation may be linearized next when its call
 * precedes every remaining return (the "window"). Linearizing one lifts its call and return out of the
 * list; backtracking puts them back. A configuration is the set of operations linearized and the model
 * state; it fully determines what can follow, so each is explored once (the memo).
 *
 * Operations of unknown outcome have no return: they may be linearized any time after their call, or
 * never, which is why the search succeeds once every operation of known outcome is placed. Left to the
 * plain algorithm, k of them pending at once make up to 2^k configurations. Two rules tame them:
 * - Between two operations of known outcome the search applies a batch of unknown outcomes, explored
 *   breadth-first so that smaller batches come first.
 * - Subsumption: a configuration is skipped when one with the same known operations and state, whose
 *   unknown operations are a subset of its own, was already explored. Having used fewer operations
 *   that never expire leaves at least the same options, so the skipped one cannot succeed where the
 *   other failed.
 * - A read-only operation (`Model.readOnly`) that fits the current state is placed without trying
 *   the alternatives: it could be moved to the front of any linearization from here anyway.
 * - Operations of unknown outcome that can only step from one state (`Model.precondition`) are indexed
 *   by it, so that a batch does not try each pending compare-and-set in every state.
 * - Within a batch, an operation that overwrites blindly (`Model.overwrites`) goes only first, and of
 *   operations with equal `Model.symmetryKey` only the first unused one is tried.
 * With these, k concurrent unknown writes of distinct values cost k configurations, not 2^k.
 */
export function searchLinearization<State, Op extends TimedOperation>(
  model: Model<State, Op>,
  operations: readonly Op[],
  options: SearchOptions = {},
): SearchResult<Op> {
  const ops = operations.filter((op) => model.matters(op));
  const { head, knownCalls, unknownCalls } = buildEntryList(ops);
  const knownCount = knownCalls.length;
  const unknownCount = unknownCalls.length;
  const now = options.now ?? (() => performance.now());
  const { deadline } = options;

  const zobrist = randomWords(knownCount, 0x2545f491);
  const knownBits = new Uint32Array(wordsFor(knownCount));
  // Known operations are numbered (slots) in call order, and every one called before the first that
  // is not placed yet is placed: the memo keeps only the bits from there on (see Memo).
  const knownCallTimes = Float64Array.from(knownCalls, (e) => e.time);
  let firstUnplaced = 0;
  let knownHash = 0;
  let remainingKnown = knownCount;
  // The layout of the unknown-outcome usage vectors: filled in once the classes are known, below.
  const usage: Usage = { bits: 0, bitWords: 0, counts: 0 };
  const memo = new Memo(usage);
  const states = new StateInterner<State>(model);
  let steps = 0;

  const readOnly = Uint8Array.from(ops, (op) =>
    op.return !== null && model.readOnly?.(op) === true ? 1 : 0,
  );
  // Models whose state only grows under some operations (appends) can rule out a configuration whose
  // state no pending read can be grown into: see `dead`.
  const extending = Uint8Array.from(ops, (op) => (model.extendsOnly?.(op) === true ? 1 : 0));
  let firstUnknownReset = Infinity;

  // Operations of unknown outcome by symmetry class (`Model.symmetryKey`), each class in call order:
  // members of a class are interchangeable once called, so the first unused one stands for the class
  // and the members used are always a prefix of it. Classes that may step from any state, and those
  // that can only step from one (`Model.precondition`) by that state's key.
  const blind = new Uint8Array(unknownCount);
  const freeClasses: UnknownClass[] = [];
  const classesByState = new Map<StateKey, UnknownClass[]>();
  {
    const classes = new Map<string, UnknownClass>();
    for (const e of unknownCalls) {
      const op = ops[e.id] as Op;
      blind[e.slot] = model.overwrites?.(op) === true ? 1 : 0;
      if (extending[e.id] === 0) firstUnknownReset = Math.min(firstUnknownReset, e.time);
      const key = model.symmetryKey?.(op) ?? `#${e.id}`;
      const known = classes.get(key);
      if (known !== undefined) {
        known.members.push(e);
        continue;
      }
      const needs = model.precondition?.(op);
      const created: UnknownClass = {
        members: [e],
        kind: needs !== undefined && model.oneShot?.(op) === true ? 'oneShot' : 'bit',
        slot: -1,
      };
      classes.set(key, created);
      if (needs === undefined) freeClasses.push(created);
      else {
        const group = classesByState.get(needs);
        if (group === undefined) classesByState.set(needs, [created]);
        else group.push(created);
      }
    }
    for (const c of classes.values()) {
      if (c.kind === 'bit' && c.members.length === 1) c.slot = usage.bits++;
    }
    usage.bitWords = Math.ceil(usage.bits / 32);
    for (const c of classes.values()) {
      if (c.kind === 'bit' && c.members.length > 1) {
        c.kind = 'count';
        c.slot = usage.bitWords + usage.counts++;
      }
    }
  }

  // Known operations that need a state no other operation can produce again (`Model.requires`,
  // `Model.unrepeatable`), counted per state while unplaced: leaving such a state with one of them
  // unplaced is a dead end (see `step`).
  const requires: (StateKey | undefined)[] = ops.map((op) =>
    op.return === null ? undefined : model.requires?.(op),
  );
  const awaiting = new Map<StateKey, number>();
  requires.forEach((needs, id) => {
    if (needs === undefined) return;
    if (model.unrepeatable?.(needs) !== true) {
      requires[id] = undefined;
      return;
    }
    awaiting.set(needs, (awaiting.get(needs) ?? 0) + 1);
  });

  /**
   * The state after `op`, or undefined when the model refuses it, or when it leaves a state that can
   * never come back while a known operation that needs that state is still to be placed: every way on
   * from there fails, found out at once instead of after trying every order of what lies between.
   */
  const step = (state: State, op: Op, id: number): State | undefined => {
    steps++;
    const next = model.step(state, op);
    if (next === undefined || awaiting.size === 0) return next;
    const from = model.stateKey(state);
    const waiting = (awaiting.get(from) ?? 0) - (requires[id] === from ? 1 : 0);
    if (waiting > 0 && model.stateKey(next) !== from) return undefined;
    return next;
  };

  /** The highest slot a placed known operation can have: the last called by `horizon`. */
  const lastSlotBy = (horizon: number): number => {
    let lo = 0;
    let hi = knownCount;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((knownCallTimes[mid] ?? 0) <= horizon) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  };

  const place = (slot: number): void => {
    const needs = requires[(knownCalls[slot] as Entry).id];
    if (needs !== undefined) awaiting.set(needs, (awaiting.get(needs) ?? 0) - 1);
    setBit(knownBits, slot);
    knownHash ^= zobrist[slot] ?? 0;
    if (slot === firstUnplaced) {
      while (firstUnplaced < knownCount && hasBit(knownBits, firstUnplaced)) firstUnplaced++;
    }
  };
  const unplace = (slot: number): void => {
    const needs = requires[(knownCalls[slot] as Entry).id];
    if (needs !== undefined) awaiting.set(needs, (awaiting.get(needs) ?? 0) + 1);
    clearBit(knownBits, slot);
    knownHash ^= zobrist[slot] ?? 0;
    if (slot < firstUnplaced) firstUnplaced = slot;
  };

  /**
   * True when some read of known outcome not yet placed can never fit. From the current state, before
   * the read's return, the state can only grow (appends) or be set afresh by an operation called by
   * then (a put, a successful compare-and-set, a delete) and grow from there. When the read's value
   * is a growth of none of these, the configuration is dead. Without this, placing a long-running
   * append too early, or concurrent appends in the wrong order, is found out only once the read is
   * placed, after every order of the appends in between has been tried. Looks at the next
   * `lookaheadEntries` calls and returns only.
   */
  const dead = (state: State): boolean => {
    if (model.reachableByExtension === undefined) return false;
    const resets: Entry[] = [];
    let horizon = Infinity;
    let seen = 0;
    for (let f = head.next; f !== null; f = f.next) {
      if (++seen > lookaheadEntries) {
        horizon = f.time;
        break;
      }
      if (f.isCall && extending[f.id] === 0 && readOnly[f.id] === 0) resets.push(f);
    }
    seen = 0;
    for (let f = head.next; f !== null && ++seen <= lookaheadEntries; f = f.next) {
      if (!f.isCall || readOnly[f.id] === 0) continue;
      const until = (f.match as Entry).time;
      // Unknown outcomes that may set the state afresh are not looked into: anything may follow them.
      if (until >= horizon || until >= firstUnknownReset) continue;
      const read = ops[f.id] as Op;
      if (model.reachableByExtension(state, read)) continue;
      let reachable = false;
      for (const r of resets) {
        if (r.time > until) break;
        const after = model.stateAfter?.(ops[r.id] as Op);
        if (after === undefined || model.reachableByExtension(after, read)) {
          reachable = true;
          break;
        }
      }
      if (!reachable) return true;
    }
    return false;
  };

  /**
   * The frame for the current configuration; null when every known outcome is placed (success);
   * `undefined` when it is dead (see `dead`).
   */
  const expand = (
    first: Item<State>,
    lifted: Entry | null,
    path: PathNode | null,
  ): Frame<State> | null | undefined => {
    if (remainingKnown === 0) return null;
    const candidates: Entry[] = [];
    const updates: Entry[] = [];
    let e = head.next;
    for (; e !== null && e.isCall; e = e.next) (readOnly[e.id] === 1 ? candidates : updates).push(e);
    // Known operations remain, so their returns do: e is the first of them.
    const horizon = e === null ? Infinity : e.time;
    // Read-only operations first (see the main loop), then updates by return: the one that must go
    // soonest is the likeliest next in a linearization (trying the earliest called first places a
    // long-running operation too early over and over).
    updates.sort((a, b) => (a.match as Entry).time - (b.match as Entry).time || a.slot - b.slot);
    candidates.push(...updates);
    if (dead(first.state)) return undefined;
    return {
      lifted,
      path,
      items: [first],
      grown: 0,
      horizon,
      lastSlot: lastSlotBy(horizon),
      candidates,
      itemIndex: 0,
      candidateIndex: 0,
    };
  };

  /**
   * Adds the configurations one more unknown outcome away from the frame's next item not yet grown.
   * Done lazily, when the items before are exhausted: a linearizable history rarely needs them.
   * Items are grown in order, so the batches stay breadth-first: each state is first reached with the
   * fewest unknown outcomes used.
   */
  const grow = (frame: Frame<State>): void => {
    const parent = frame.grown++;
    const item = frame.items[parent] as Item<State>;
    const tryClasses = (classes: readonly UnknownClass[]): void => {
      for (const c of classes) {
        // The first unused member stands for its class.
        const e = nextMember(c, item.unknown);
        if (e === undefined || e.time > frame.horizon) continue;
        if (parent > 0 && blind[e.slot] === 1) continue;
        const next = step(item.state, ops[e.id] as Op, e.id);
        if (next === undefined) continue;
        const stateId = states.idOf(next);
        const unknown = used(c, item.unknown);
        const hash = (knownHash ^ states.mix(stateId)) >>> 0;
        if (!memo.add(knownBits, firstUnplaced, frame.lastSlot, hash, stateId, unknown)) continue;
        frame.items.push({ state: next, stateId, unknown, parent, opId: e.id });
      }
    };
    tryClasses(freeClasses);
    if (classesByState.size > 0) tryClasses(classesByState.get(model.stateKey(item.state)) ?? []);
  };

  /** The operations of a frame's item taken to reach it: the unknown outcomes of its batch. */
  const batchOf = (frame: Frame<State>): number[] => {
    const batch: number[] = [];
    for (let i = frame.itemIndex; i > 0;) {
      const item = frame.items[i] as Item<State>;
      batch.push(item.opId);
      i = item.parent;
    }
    return batch.reverse();
  };

  const orderOf = (node: PathNode | null): Op[] => {
    const chunks: number[][] = [];
    for (let n = node; n !== null; n = n.prev) chunks.push(n.ops);
    return chunks.reverse().flatMap((chunk) => chunk.map((id) => ops[id] as Op));
  };

  const init: Item<State> = {
    state: model.init,
    stateId: states.idOf(model.init),
    unknown: new Uint32Array(usage.bitWords + usage.counts),
    parent: -1,
    opId: -1,
  };
  memo.add(knownBits, 0, -1, states.mix(init.stateId), init.stateId, init.unknown);
  const root = expand(init, null, null);
  const result = (verdict: Verdict, order: Op[]): SearchResult<Op> => ({
    verdict,
    order,
    steps,
    memoEntries: memo.size,
  });
  if (root === null) return result('linearizable', []);
  if (root === undefined) return result('not-linearizable', []);
  const stack: Frame<State>[] = [root];
  // The deepest configuration reached (by operations of known outcome), for reporting.
  let longest: PathNode | null = null;
  let longestKnown = 0;
  let nextClockCheck = clockCheckSteps;

  for (;;) {
    if (deadline !== undefined && steps >= nextClockCheck) {
      nextClockCheck = steps + clockCheckSteps;
      if (now() > deadline) return result('unknown', orderOf(longest));
    }
    const frame = stack[stack.length - 1];
    if (frame === undefined) return result('not-linearizable', orderOf(longest));
    const item = frame.items[frame.itemIndex];
    if (item === undefined) {
      if (frame.grown < frame.items.length) {
        grow(frame);
        continue;
      }
      // Every way on from this configuration failed: put its operation back.
      stack.pop();
      const lifted = frame.lifted;
      if (lifted !== null) {
        unlift(lifted);
        unplace(lifted.slot);
        remainingKnown++;
      }
      continue;
    }
    const candidate = frame.candidates[frame.candidateIndex++];
    if (candidate === undefined) {
      frame.itemIndex++;
      frame.candidateIndex = 0;
      continue;
    }
    const next = step(item.state, ops[candidate.id] as Op, candidate.id);
    if (next === undefined) continue;
    // A read-only operation that may go now can go first in any linearization from here: moving it
    // to the front changes no state and breaks no real-time order (whatever returned before its call
    // is placed already). So when one fits, the others need not be tried from this item.
    if (readOnly[candidate.id] === 1) frame.candidateIndex = frame.candidates.length;
    const stateId = states.idOf(next);
    place(candidate.slot);
    const hash = (knownHash ^ states.mix(stateId)) >>> 0;
    if (!memo.add(knownBits, firstUnplaced, frame.lastSlot, hash, stateId, item.unknown)) {
      unplace(candidate.slot);
      continue;
    }
    lift(candidate);
    remainingKnown--;
    const path: PathNode = { prev: frame.path, ops: [...batchOf(frame), candidate.id] };
    const child = expand(
      { state: next, stateId, unknown: item.unknown, parent: -1, opId: -1 },
      candidate,
      path,
    );
    if (child === null) return result('linearizable', orderOf(path));
    if (child === undefined) {
      unlift(candidate);
      unplace(candidate.slot);
      remainingKnown++;
      continue;
    }
    stack.push(child);
    // The stack holds one frame per operation of known outcome placed, plus the root.
    if (stack.length - 1 > longestKnown) {
      longestKnown = stack.length - 1;
      longest = path;
    }
  }
}

/** Operations of unknown outcome with one `Model.symmetryKey`, in call order. */
interface UnknownClass {
  members: Entry[];
  /**
   * How its use is recorded: `oneShot` (`Model.oneShot`: at most one member ever takes effect on any
   * path, and the state tells whether one may still) not at all; `bit`, a class of one, as bit `slot`;
   * `count`, as the number of members used in word `slot`.
   */
  kind: 'oneShot' | 'bit' | 'count';
  slot: number;
}

/**
 * How a configuration's use of operations of unknown outcome is recorded: one Uint32Array per item,
 * `bitWords` words of bits (one per class of a single operation, used or not) followed by `counts`
 * words (per larger class, how many of its members, a prefix in call order, were used). One-shot
 * classes take no room. In a coordinator history most unknown outcomes are writes nobody observed,
 * which the model merges into a few large classes: a few words instead of one bit per operation of
 * unknown outcome in the history, copied at every step.
 */
interface Usage {
  bits: number;
  bitWords: number;
  counts: number;
}

/** The class's first member not used in `unknown` (call order), if any. */
function nextMember(c: UnknownClass, unknown: Uint32Array): Entry | undefined {
  if (c.kind === 'oneShot') return c.members[0];
  if (c.kind === 'bit') return hasBit(unknown, c.slot) ? undefined : c.members[0];
  return c.members[unknown[c.slot] ?? 0];
}

/** `unknown` with the class's next member used. */
function used(c: UnknownClass, unknown: Uint32Array): Uint32Array {
  if (c.kind === 'oneShot') return unknown;
  const copy = unknown.slice();
  if (c.kind === 'bit') setBit(copy, c.slot);
  else copy[c.slot] = (copy[c.slot] ?? 0) + 1;
  return copy;
}

/** The operations placed on the way to a frame, as a list shared by the frames below it. */
interface PathNode {
  readonly prev: PathNode | null;
  /** The unknown outcomes of the batch, then the operation of known outcome. */
  readonly ops: number[];
}

/**
 * The time-ordered list of the known operations' calls and returns, behind a sentinel head (calls sort
 * before returns at equal times: touching intervals overlap); the known calls by slot, which is their
 * order of call; and the calls of unknown outcome, which are never lifted, in call order.
 */
function buildEntryList(ops: readonly TimedOperation[]): {
  head: Entry;
  knownCalls: Entry[];
  unknownCalls: Entry[];
} {
  const entry = (id: number, isCall: boolean, time: number): Entry => ({
    id,
    isCall,
    slot: -1,
    time,
    match: null,
    prev: null,
    next: null,
  });
  const byTime = (a: Entry, b: Entry): number =>
    a.time - b.time || Number(!a.isCall) - Number(!b.isCall) || a.id - b.id;
  const entries: Entry[] = [];
  const knownCalls: Entry[] = [];
  const unknownCalls: Entry[] = [];
  ops.forEach((op, id) => {
    const call = entry(id, true, op.call);
    if (op.return === null) {
      unknownCalls.push(call);
      return;
    }
    call.match = entry(id, false, op.return);
    knownCalls.push(call);
    entries.push(call, call.match);
  });
  entries.sort(byTime);
  knownCalls.sort(byTime);
  unknownCalls.sort(byTime);
  knownCalls.forEach((e, slot) => {
    e.slot = slot;
    (e.match as Entry).slot = slot;
  });
  unknownCalls.forEach((e, slot) => {
    e.slot = slot;
  });
  const head = entry(-1, false, -Infinity);
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return { head, knownCalls, unknownCalls };
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

function wordsFor(bitCount: number): number {
  return Math.max(1, Math.ceil(bitCount / 32));
}

function hasBit(bits: Uint32Array, i: number): boolean {
  return (((bits[i >>> 5] ?? 0) >>> (i & 31)) & 1) === 1;
}

function setBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5] = (bits[i >>> 5] ?? 0) | (1 << (i & 31));
}

function clearBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5] = (bits[i >>> 5] ?? 0) & ~(1 << (i & 31));
}

/** Maps states to small integers so that the memo compares integers, not states. */
class StateInterner<State> {
  private readonly ids = new Map<StateKey, number>();
  private readonly mixes: number[] = [];
  private readonly random = splitmix32(0x9e3779b9);

  constructor(private readonly model: Model<State, never>) {}

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

interface MemoEntry {
  /** The known operations placed, from word `start` of the bitset on (see Memo.add). */
  start: number;
  known: Uint32Array;
  stateId: number;
  /** The unknown-outcome sets this configuration was explored with; none contains another. */
  unknownSets: Uint32Array[];
}

/**
 * Configurations explored, by (known operations placed, state), each with its unknown-outcome sets.
 *
 * Bounded: the memo only saves work (forgetting a configuration means exploring it again, never a
 * wrong verdict), so it keeps two generations of at most `generationEntries` each and drops the older
 * when the younger fills up. Recent configurations, the ones a depth-first search comes back to, stay.
 */
class Memo {
  private young = new Map<number, MemoEntry[]>();
  private old = new Map<number, MemoEntry[]>();
  private youngEntries = 0;
  size = 0;

  constructor(
    private readonly usage: Usage,
    private readonly generationEntries = memoGenerationEntries,
  ) {}

  /**
   * Records the configuration; false when it, or one that subsumes it (same known set and state,
   * a subset of its unknown outcomes), was explored before.
   *
   * The set of known operations placed is stored compactly: every slot below `firstUnplaced` is
   * placed and none above `lastSlot` is, so only the words between say anything. In a long history
   * that is a few words instead of one bit per operation of the whole history.
   */
  add(
    known: Uint32Array,
    firstUnplaced: number,
    lastSlot: number,
    hash: number,
    stateId: number,
    unknown: Uint32Array,
  ): boolean {
    const start = firstUnplaced >>> 5;
    let end = Math.max(start, (lastSlot >>> 5) + 1);
    if (lastSlot < 0) end = start;
    while (end > start && known[end - 1] === 0) end--;
    const matches = (e: MemoEntry): boolean =>
      e.stateId === stateId && e.start === start && sameWords(e.known, known, start, end);
    let bucket = this.young.get(hash);
    let entry = bucket?.find(matches);
    if (entry === undefined) {
      const older = this.old.get(hash)?.find(matches);
      if (older !== undefined) {
        // Still in use: bring it into the young generation.
        entry = older;
        bucket = this.bucket(hash);
        bucket.push(older);
        this.youngEntries++;
      }
    }
    if (entry === undefined) {
      this.bucket(hash).push({ start, known: known.slice(start, end), stateId, unknownSets: [unknown] });
      this.youngEntries++;
      this.size++;
      this.age();
      return true;
    }
    const bitWords = this.usage.bitWords;
    if (entry.unknownSets.some((seen) => usedNoMore(seen, unknown, bitWords))) return false;
    // Sets the new one subsumes can never prune anything it would not: drop them.
    entry.unknownSets = entry.unknownSets.filter((seen) => !usedNoMore(unknown, seen, bitWords));
    entry.unknownSets.push(unknown);
    this.size++;
    return true;
  }

  private bucket(hash: number): MemoEntry[] {
    let bucket = this.young.get(hash);
    if (bucket === undefined) {
      bucket = [];
      this.young.set(hash, bucket);
    }
    return bucket;
  }

  private age(): void {
    if (this.youngEntries < this.generationEntries) return;
    this.old = this.young;
    this.young = new Map();
    this.youngEntries = 0;
  }
}

/** Whether `stored` equals words [start, end) of `bits`. */
function sameWords(stored: Uint32Array, bits: Uint32Array, start: number, end: number): boolean {
  if (stored.length !== end - start) return false;
  for (let i = 0; i < stored.length; i++) if (stored[i] !== bits[start + i]) return false;
  return true;
}

/**
 * Whether usage `small` used no more than `big`: a subset of its classes of one, no more members of
 * each larger class (members are used in call order, so fewer is a subset).
 */
function usedNoMore(small: Uint32Array, big: Uint32Array, bitWords: number): boolean {
  for (let i = 0; i < bitWords; i++) if (((small[i] ?? 0) & ~(big[i] ?? 0)) !== 0) return false;
  for (let i = bitWords; i < small.length; i++) if ((small[i] ?? 0) > (big[i] ?? 0)) return false;
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
