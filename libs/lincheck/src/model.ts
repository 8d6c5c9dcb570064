import type { HistoryOperation } from './history.js';

/**
 * A sequential specification: what one partition of the history must look like when its operations
 * run one at a time. Pure and deterministic; the search calls `step` millions of times.
 */
export interface Model<State, Op> {
  readonly name: string;
  readonly init: State;
  /**
   * Whether an operation constrains the search at all. Operations that certainly had no effect and
   * observed nothing (a failed write, a read of unknown outcome) are dropped before the search, which
   * both shrinks it and keeps such operations from blocking a linearization with their return.
   */
  matters(op: Op): boolean;
  /**
   * The state after `op` takes effect in `state`, or `undefined` when its recorded outcome is impossible
   * there. An operation of unknown outcome is only ever stepped as "took effect": "never took effect" is
   * represented by the search leaving it out.
   */
  step(state: State, op: Op): State | undefined;
  /** A primitive that is equal for equal states: the memo table compares states through it. */
  stateKey(state: State): string | number | null;
  /**
   * Optional: true when the state after `op` does not depend on the state before it and `op` cannot be
   * refused (a blind write). The search then applies such an operation of unknown outcome only first in
   * a batch: anywhere later in the batch it would give the same state having used more operations.
   */
  overwrites?(op: Op): boolean;
  /**
   * Optional: true when `op` never changes the state (`step` returns the state or refuses): a read,
   * a failed compare-and-set. The search places such an operation as soon as it fits, untried others.
   */
  readOnly?(op: Op): boolean;
  /**
   * Optional: for an operation of unknown outcome that can only take effect in one state, that
   * state's `stateKey`; `undefined` when any state may do. Lets the search skip it elsewhere unasked.
   */
  precondition?(op: Op): string | number | null | undefined;
  /**
   * Optional, with `precondition`: true when the state `op` needs, once left, is never reached again
   * in this partition (no other operation can produce it). Then at most one operation needing it ever
   * takes effect on any path (taking effect leaves it), and whether one still may is told by the
   * state alone, so the search does not record which were used.
   */
  oneShot?(op: Op): boolean;
  /**
   * Optional, with `unrepeatable`: for an operation of known outcome, the `stateKey` of the one state
   * it can take effect in (a read's value, a successful compare-and-set's expected value), if any.
   */
  requires?(op: Op): string | number | null | undefined;
  /**
   * Optional: true when no operation of this partition can produce the state again once it is left
   * (at most one operation, or the start, produces it). The search then refuses to leave it while a
   * known operation that `requires` it is unplaced.
   */
  unrepeatable?(state: string | number | null): boolean;
  /**
   * Optional: operations of unknown outcome with equal keys step alike from every state, so once both
   * have been called either may stand for the other; the search tries only one of them at a time.
   */
  symmetryKey?(op: Op): string;
  /**
   * Optional, with `reachableByExtension`: true when `op` can only grow the state (an append), so that
   * states reached by such operations alone are all extensions of the state before.
   */
  extendsOnly?(op: Op): boolean;
  /**
   * Optional: for a read-only operation of known outcome, false when no state grown from `state` by
   * `extendsOnly` operations lets it fit. The search then gives up on a configuration where such a
   * read is pending and nothing else may go before its return.
   */
  reachableByExtension?(state: State, op: Op): boolean;
  /**
   * Optional, with `reachableByExtension`: the state after `op` takes effect when it does not depend on
   * the state before (a put, a delete, a compare-and-set that swaps); `undefined` when it does.
   */
  stateAfter?(op: Op): State | undefined;
}

/**
 * The value of one key (or a single register): `null` when absent.
 *
 * This is both of the checker's models. Jepsen's etcd register is one key with read = `get`,
 * write = `put` and the same `cas`, starting at `nil`. The key/value map is this model applied to each
 * key separately: map operations on different keys commute, so by P-compositionality (Herlihy & Wing)
 * the map history is linearizable exactly when every per-key sub-history is.
 */
export function registerModel(initialValue: string | null = null): Model<string | null, HistoryOperation> {
  return valueModel(initialValue, (value) => value);
}

/**
 * {@link registerModel} specialised to one partition's operations: values that no operation observes
 * (no `get` reads them, no `cas` expects them) are all the same to the model, so they are merged into
 * one state. Many writes whose outcome is unknown and whose values nobody read (a client that timed
 * out during a partition) then step to one state instead of one state each, and with the symmetry key
 * the search tries one of them, not all. Not done when the partition appends: an append reads the
 * value it extends.
 */
export function registerModelFor(
  operations: readonly HistoryOperation[],
  initialValue: string | null = null,
): Model<string | null, HistoryOperation> {
  if (operations.some((op) => op.op === 'append')) return appendModel(initialValue);
  const observed = new Set<string>();
  for (const op of operations) {
    if (op.op === 'get' && typeof op.result === 'string') observed.add(op.result);
    if (op.op === 'cas' && typeof op.expect === 'string') observed.add(op.expect);
  }
  let unobserved = '\u0000unobserved';
  while (observed.has(unobserved)) unobserved += '\u0000';
  const canonical = (value: string | null): string | null =>
    value === null || observed.has(value) ? value : unobserved;
  // How many operations can produce each state, the initial state counting as one.
  const producers = new Map<string | null, number>();
  const produces = (state: string | null): void => {
    producers.set(state, (producers.get(state) ?? 0) + 1);
  };
  produces(canonical(initialValue));
  for (const op of operations) {
    if (op.op === 'put' || op.op === 'cas') produces(canonical(op.value ?? null));
    else if (op.op === 'delete') produces(null);
  }
  return {
    ...valueModel(initialValue, canonical),
    oneShot(op) {
      // A compare-and-set of unknown outcome from a state only one operation (or the start) produces:
      // with unique values, almost every one. The canonical unobserved state is never expected.
      return op.op === 'cas' && (producers.get(canonical(op.expect ?? null)) ?? 0) <= 1;
    },
    requires(op) {
      if (op.op === 'get') return canonical(op.result ?? null);
      if (op.op === 'cas' && op.ok) return canonical(op.expect ?? null);
      return undefined;
    },
    unrepeatable(state) {
      return typeof state !== 'number' && (producers.get(state) ?? 0) <= 1;
    },
  };
}

/** {@link registerModel} with the hooks that let the search prune orders of appends early. */
function appendModel(initialValue: string | null): Model<string | null, HistoryOperation> {
  return {
    ...registerModel(initialValue),
    extendsOnly(op) {
      return op.op === 'append';
    },
    reachableByExtension(state, op) {
      // Appends grow the text; an absent key grows into anything.
      if (op.op !== 'get' || state === null) return true;
      const result = op.result ?? null;
      return result !== null && result.startsWith(state);
    },
    stateAfter(op) {
      if (op.op === 'put' || (op.op === 'cas' && op.ok)) return op.value ?? null;
      return op.op === 'delete' ? null : undefined;
    },
  };
}

function valueModel(
  initialValue: string | null,
  canonical: (value: string | null) => string | null,
): Model<string | null, HistoryOperation> {
  return {
    name: 'register',
    init: canonical(initialValue),
    matters(op) {
      if (op.return === null) return op.op !== 'get';
      return op.ok || op.op === 'cas';
    },
    step(state, op) {
      switch (op.op) {
        case 'get':
          return state === (op.result ?? null) ? state : undefined;
        case 'put':
          return canonical(op.value ?? null);
        case 'append':
          return (state ?? '') + (op.value ?? '');
        case 'delete':
          return null;
        case 'cas': {
          const expect = op.expect ?? null;
          // A cas that completed with ok:false read a different value and changed nothing.
          if (op.return !== null && !op.ok) return state !== expect ? state : undefined;
          return state === expect ? canonical(op.value ?? null) : undefined;
        }
      }
    },
    stateKey(state) {
      return state;
    },
    overwrites(op) {
      return op.op === 'put' || op.op === 'delete';
    },
    precondition(op) {
      // Asked about operations of unknown outcome, which only ever step as a successful swap.
      return op.op === 'cas' ? canonical(op.expect ?? null) : undefined;
    },
    readOnly(op) {
      return op.op === 'get' || (op.op === 'cas' && op.return !== null && !op.ok);
    },
    symmetryKey(op) {
      // Only asked about operations of unknown outcome, which can only be stepped as "took effect".
      const value = op.op === 'put' || op.op === 'cas' ? canonical(op.value ?? null) : null;
      return JSON.stringify([
        op.op,
        op.op === 'cas' ? (op.expect ?? null) : null,
        op.op === 'append' ? op.value : value,
      ]);
    },
  };
}
