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
