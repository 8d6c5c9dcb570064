import type { Balancer } from './balancer.js';

/** Helpers for the property tests (not exported from the barrel). */
export const INSTANCE_COUNT = 10;
export const KEY_COUNT = 100_000;

export const instanceIds = (count: number): string[] =>
  Array.from({ length: count }, (_, i) => `instance-${i}`);
export const sampleKeys = (count: number): string[] => Array.from({ length: count }, (_, i) => `key-${i}`);

export function assign(balancer: Balancer, keys: readonly string[]): string[] {
  return keys.map((key) => {
    const owner = balancer.lookup(key);
    if (owner === undefined) throw new Error('no member');
    return owner;
  });
}

export interface LoadFigures {
  readonly maxOverMean: number;
  readonly minOverMean: number;
}

export function loadFigures(owners: readonly string[], members: readonly string[]): LoadFigures {
  const counts = new Map<string, number>(members.map((id) => [id, 0]));
  for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  const values = [...counts.values()];
  const mean = owners.length / members.length;
  return { maxOverMean: Math.max(...values) / mean, minOverMean: Math.min(...values) / mean };
}

export interface Movement {
  readonly movedFraction: number;
  /** Keys that moved somewhere other than where the change allows. */
  readonly strayMoves: number;
}

export function movement(
  before: readonly string[],
  after: readonly string[],
  allowed: (from: string, to: string) => boolean,
): Movement {
  let moved = 0;
  let stray = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] === after[i]) continue;
    moved++;
    if (!allowed(before[i]!, after[i]!)) stray++;
  }
  return { movedFraction: moved / before.length, strayMoves: stray };
}
