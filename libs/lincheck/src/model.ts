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
  return {
    name: 'register',
    init: initialValue,
    matters(op) {
      if (op.return === null) return op.op !== 'get';
      return op.ok || op.op === 'cas';
    },
    step(state, op) {
      switch (op.op) {
        case 'get':
          return state === (op.result ?? null) ? state : undefined;
        case 'put':
          return op.value ?? null;
        case 'append':
          return (state ?? '') + (op.value ?? '');
        case 'delete':
          return null;
        case 'cas': {
          const expect = op.expect ?? null;
          // A cas that completed with ok:false read a different value and changed nothing.
          if (op.return !== null && !op.ok) return state !== expect ? state : undefined;
          return state === expect ? (op.value ?? null) : undefined;
        }
      }
    },
    stateKey(state) {
      return state;
    },
  };
}
