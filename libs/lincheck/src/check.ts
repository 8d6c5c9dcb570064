import { validateOperation, type History, type HistoryOperation, type KvOperation } from './history.js';
import { settleObservedWrites, staleObservation } from './infer.js';
import { registerModelFor } from './model.js';
import { searchLinearization, type Verdict } from './search.js';

export interface CheckOptions {
  /** Stop searching after this long; the verdict is then `unknown` unless some key already failed. */
  timeoutMs?: number;
  /** The value of every key before the history starts; `null` (absent) unless said otherwise. */
  initialValue?: string | null;
  /** The clock `timeoutMs` is measured on; `performance.now` unless a test injects one. */
  now?: () => number;
}

/** Where the history goes wrong: the first key found not linearizable (or whose search timed out). */
export interface CheckFailure {
  key: string;
  verdict: Exclude<Verdict, 'linearizable'>;
  /** The key's operations that matter to the model (see `Model.matters`). */
  operations: number;
  /** The longest legal order of this key's operations the search found. */
  longestPrefix: HistoryOperation[];
  /** This key's operations of known outcome left out of that prefix: one of them cannot be placed. */
  stuck: HistoryOperation[];
}

export interface CheckResult {
  /** True only when proven: false for a violation and for a search that timed out. */
  linearizable: boolean;
  verdict: Verdict;
  /** Number of keys (independent sub-histories) in the history. */
  keys: number;
  operations: number;
  /** Model steps over all keys: the work done, independent of the machine. */
  steps: number;
  failure?: CheckFailure;
}

/**
 * Checks a key/value history against a map whose keys start absent (or at `options.initialValue`).
 * Throws `InvalidOperationError` for an operation that lacks what its kind needs.
 */
export function checkKv(history: readonly KvOperation[], options: CheckOptions = {}): CheckResult {
  return checkOperations(history, options);
}

/** Checks a parsed history (which may hold `append`s), starting every key at its `initialValue`. */
export function checkHistory(
  history: History,
  options: Omit<CheckOptions, 'initialValue'> = {},
): CheckResult {
  return checkOperations(history.operations, { ...options, initialValue: history.initialValue });
}

function checkOperations(history: readonly HistoryOperation[], options: CheckOptions): CheckResult {
  history.forEach(validateOperation);
  const now = options.now ?? (() => performance.now());
  const deadline = options.timeoutMs === undefined ? undefined : now() + options.timeoutMs;
  const partitions = partitionByKey(history);

  let steps = 0;
  let failure: CheckFailure | undefined;
  for (const [key, ops] of partitions) {
    const initialValue = options.initialValue ?? null;
    const settled = settleObservedWrites(ops, initialValue);
    const model = registerModelFor(settled, initialValue);
    const stale = staleObservation(settled, initialValue);
    if (stale !== undefined) {
      // A read of a value certainly overwritten before it was called: no search needed.
      failure = {
        key,
        verdict: 'not-linearizable',
        operations: settled.filter((op) => model.matters(op)).length,
        longestPrefix: [],
        stuck: [ops[settled.indexOf(stale)] as HistoryOperation],
      };
      break;
    }
    const found = searchLinearization(model, settled, { deadline, now });
    steps += found.steps;
    if (found.verdict === 'linearizable') continue;
    // A proven violation outranks a time-out on some other key.
    if (failure === undefined || failure.verdict === 'unknown') {
      // Report the operations as recorded, not as settled.
      const original = new Map(settled.map((op, i) => [op, ops[i] as HistoryOperation]));
      const longestPrefix = found.order.map((op) => original.get(op) ?? op);
      const placed = new Set(longestPrefix);
      const unplaced = ops.filter(
        (op, i) =>
          model.matters(settled[i] as HistoryOperation) &&
          (settled[i] as HistoryOperation).return !== null &&
          !placed.has(op),
      );
      failure = {
        key,
        verdict: found.verdict,
        operations: settled.filter((op) => model.matters(op)).length,
        longestPrefix,
        stuck: blocking(model, found.order, unplaced, original),
      };
    }
    if (found.verdict === 'not-linearizable') break;
  }
  const verdict: Verdict = failure?.verdict ?? 'linearizable';
  return {
    linearizable: verdict === 'linearizable',
    verdict,
    keys: partitions.size,
    operations: history.length,
    steps,
    ...(failure === undefined ? {} : { failure }),
  };
}

/**
 * Of the known operations the longest prefix leaves out, the ones that hold it up. The search refuses
 * to leave a state that cannot come back while an operation needing it is unplaced (`Model.requires`),
 * so its prefixes stop where such an operation could no longer be placed: the operations needing a
 * state the prefix passed through and left (a stale read), then those needing the state it ends in.
 * When there are none, every operation left out.
 */
function blocking(
  model: ReturnType<typeof registerModelFor>,
  order: readonly HistoryOperation[],
  unplaced: readonly HistoryOperation[],
  original: ReadonlyMap<HistoryOperation, HistoryOperation>,
): HistoryOperation[] {
  const settledOf = new Map([...original].map(([settled, recorded]) => [recorded, settled]));
  const visited = [model.stateKey(model.init)];
  let state: string | null | undefined = model.init;
  for (const op of order) {
    state = state === undefined ? undefined : model.step(state, op);
    if (state !== undefined) visited.push(model.stateKey(state));
  }
  const last = visited[visited.length - 1];
  const left = new Set(visited.slice(0, -1).filter((s) => s !== last));
  const needs = (op: HistoryOperation) => {
    const needed = model.requires?.(settledOf.get(op) ?? op);
    return needed !== undefined && model.unrepeatable?.(needed) === true ? needed : undefined;
  };
  const stale = unplaced.filter((op) => {
    const needed = needs(op);
    return needed !== undefined && left.has(needed);
  });
  if (stale.length > 0) return stale;
  const waiting = unplaced.filter((op) => needs(op) === last && last !== undefined);
  return waiting.length > 0 ? waiting : [...unplaced];
}

/** Operations on different keys commute, so each key is checked on its own (P-compositionality). */
function partitionByKey(history: readonly HistoryOperation[]): Map<string, HistoryOperation[]> {
  const partitions = new Map<string, HistoryOperation[]>();
  for (const op of history) {
    const ops = partitions.get(op.key);
    if (ops === undefined) partitions.set(op.key, [op]);
    else ops.push(op);
  }
  return partitions;
}
