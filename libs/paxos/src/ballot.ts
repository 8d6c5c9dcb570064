import type { NodeId } from '@concord/raft';

/**
 * A ballot (Lamport's "proposal number"): a round, made unique by the proposer's id. Ballots are totally
 * ordered: by round, then by node id. Every proposer draws from its own disjoint set (its id is in it), so
 * no two proposers ever run the same ballot.
 */
export interface Ballot {
  readonly round: number;
  readonly node: NodeId;
}

/** Below every real ballot: what an acceptor has promised before it promised anything. */
export const ZERO_BALLOT: Ballot = { round: 0, node: '' };

export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round < b.round ? -1 : 1;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

export function sameBallot(a: Ballot, b: Ballot): boolean {
  return a.round === b.round && a.node === b.node;
}

export function formatBallot(b: Ballot): string {
  return `${b.round}.${b.node || '-'}`;
}

/** A value: a command's bytes, or `null` for the no-op a new leader puts in a slot nobody accepted. */
export type Value = Uint8Array | null;

export function sameValue(a: Value, b: Value): boolean {
  if (a === null || b === null) return a === b;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** How many of `n` acceptors make a majority. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}
