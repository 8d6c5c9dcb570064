import type { HistoryOperation } from './history.js';

/**
 * Settles writes of unknown outcome that a completed operation observed, before the search.
 *
 * When a `put` or `cas` of unknown outcome is the only write of its value in the partition, and that
 * value is not the initial one, then a completed `get` that read it, or a completed `cas` that swapped
 * from it, proves the write took effect, and took effect before that observer returned. Such a write
 * becomes one of known outcome whose interval ends at the earliest return of its observers. Both
 * histories have the same linearizations (every linearization of the original places the write before
 * all of its observers), but the search handles the new one far better: an operation of unknown
 * outcome never expires, so each one it must keep open multiplies the configurations, while a known
 * one leaves the window at its return. In a coordinator history recorded under faults, most writes
 * that timed out and still landed are read soon after, so most unknown outcomes settle this way.
 *
 * Returns the operations unchanged when the partition appends (an append's value is read as part of
 * a longer one, and appends of equal text are common).
 */
export function settleObservedWrites(
  operations: readonly HistoryOperation[],
  initialValue: string | null,
): HistoryOperation[] {
  if (operations.some((op) => op.op === 'append')) return [...operations];
  const writers = new Map<string, number>();
  for (const op of operations) {
    if ((op.op === 'put' || op.op === 'cas') && typeof op.value === 'string')
      writers.set(op.value, (writers.get(op.value) ?? 0) + 1);
  }
  // The earliest return of a completed operation that saw each value.
  const seenBy = new Map<string, number>();
  const observe = (value: string | null | undefined, at: number): void => {
    if (typeof value !== 'string') return;
    const before = seenBy.get(value);
    if (before === undefined || at < before) seenBy.set(value, at);
  };
  for (const op of operations) {
    if (op.return === null || !op.ok) continue;
    if (op.op === 'get') observe(op.result, op.return);
    else if (op.op === 'cas') observe(op.expect, op.return);
  }
  return operations.map((op) => {
    if (op.return !== null || (op.op !== 'put' && op.op !== 'cas')) return op;
    const value = op.value;
    if (typeof value !== 'string' || value === initialValue || writers.get(value) !== 1) return op;
    const seen = seenBy.get(value);
    // Seen before it was called: no order explains that; the search will say so.
    if (seen === undefined || seen < op.call) return op;
    return { ...op, return: seen, ok: true };
  });
}

/**
 * A completed operation that saw a value written once although a write that certainly took effect
 * came after that value's only write and before the operation was called: a stale read (or a stale
 * compare-and-set) that no order explains, found without a search.
 *
 * Sound: let `v` be produced only by `P` (a write, or the start). A completed `get` reading `v`, or a
 * completed `cas` that swapped from `v`, must be placed while the state is `v`, so after `P`. A known
 * write `W` of another value that was called after `P` returned and returned before the reader was
 * called is placed after `P` and before the reader, and leaves the state `!= v`; nothing produces `v`
 * again, so the reader cannot be placed. The search would find this too, but only after exhausting every
 * order of everything before `P`, which for a violation in the middle of a long history is out of reach.
 * Operations are those of one partition, after `settleObservedWrites`. Not applied when it appends.
 */
export function staleObservation(
  operations: readonly HistoryOperation[],
  initialValue: string | null,
): HistoryOperation | undefined {
  if (operations.some((op) => op.op === 'append')) return undefined;
  // The writes that certainly took effect, each leaving the state at its value.
  const writes = operations.filter(
    (op) => op.return !== null && op.ok && (op.op === 'put' || op.op === 'delete' || op.op === 'cas'),
  );
  const produced = (op: HistoryOperation): string | null => (op.op === 'delete' ? null : (op.value ?? null));
  const producers = new Map<string | null, HistoryOperation[]>();
  for (const op of operations) {
    if (op.op !== 'put' && op.op !== 'cas' && op.op !== 'delete') continue;
    const value = produced(op);
    const list = producers.get(value);
    if (list === undefined) producers.set(value, [op]);
    else list.push(op);
  }
  // By call, the earliest return of a write called after each point: suffix minima.
  const byCall = [...writes].sort((a, b) => a.call - b.call);
  const earliestReturnFrom = new Float64Array(byCall.length + 1).fill(Infinity);
  for (let i = byCall.length - 1; i >= 0; i--) {
    earliestReturnFrom[i] = Math.min(
      earliestReturnFrom[i + 1] ?? Infinity,
      (byCall[i] as HistoryOperation).return ?? Infinity,
    );
  }
  /** The earliest return of a write called strictly after `time`. */
  const earliestReturnOfWriteAfter = (time: number): number => {
    let lo = 0;
    let hi = byCall.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((byCall[mid] as HistoryOperation).call <= time) lo = mid + 1;
      else hi = mid;
    }
    return earliestReturnFrom[lo] ?? Infinity;
  };
  for (const op of operations) {
    if (op.return === null || !op.ok) continue;
    let seen: string | null;
    if (op.op === 'get') seen = op.result ?? null;
    else if (op.op === 'cas') seen = op.expect ?? null;
    else continue;
    const writers = producers.get(seen) ?? [];
    const fromStart = seen === initialValue;
    if (writers.length + (fromStart ? 1 : 0) !== 1) continue;
    const writer = writers[0];
    // After the start, every write follows it; after a write of unknown outcome, none certainly does.
    const after = fromStart ? -Infinity : (writer?.return ?? null);
    if (after === null) continue;
    if (earliestReturnOfWriteAfter(after) < op.call) return op;
  }
  return undefined;
}
