import type { PersistedState } from '../core/raft-node.js';
import type { Entry, HardState, Snapshot } from '../types.js';

/**
 * What a node restarts from, given what its storage returned. Entries after the snapshot are kept only
 * if the stored log agrees with the snapshot at the snapshot's index: when a snapshot from the leader
 * replaced the log, the driver writes an entry at the snapshot's index (which, by the log's contract,
 * replaces every later entry) and compacts below it; a crash between the two leaves a stale suffix that
 * this check discards. Local snapshots compact to `index - 1` for the same reason: the entry at the
 * snapshot's index stays as the witness.
 */
export function recoverState(
  snapshot: Snapshot | null,
  hardState: HardState | null,
  stored: readonly Entry[],
): PersistedState {
  let entries = stored;
  if (snapshot) {
    const si = snapshot.meta.index;
    const first = entries[0]?.index ?? 0;
    const witness = entries[si - first];
    entries =
      witness && witness.index === si && witness.term === snapshot.meta.term
        ? entries.slice(si - first + 1)
        : [];
  }
  return { hardState, snapshot, entries };
}

/** The entry the driver writes at a received snapshot's index to cut any stale suffix from the log. */
export function snapshotWitness(snapshot: Snapshot): Entry {
  return { index: snapshot.meta.index, term: snapshot.meta.term, type: 'noop', data: new Uint8Array(0) };
}
