import { hashString } from './hash.js';

export type BalancerAlgorithm = 'ring' | 'maglev' | 'rendezvous';

/** Says whether an instance may take a request (its breaker is closed, it is not ejected...). */
export type AcceptInstance = (id: string) => boolean;

/**
 * What the gateway needs from a key-to-instance mapping, whatever the algorithm. Every implementation is
 * a pure, synchronous data structure: the same members and weights give the same answers, whatever the
 * order in which they were added, on every process (so two gateway replicas agree without talking).
 */
export interface Balancer {
  readonly algorithm: BalancerAlgorithm;
  /** Number of members. */
  readonly size: number;
  /** Adds a member, or changes its weight if it is already there. Weight is relative (default 1). */
  add(id: string, weight?: number): void;
  /** Removes a member; false when it was not there. */
  remove(id: string): boolean;
  /** Changes a member's weight; throws when it is not a member. */
  setWeight(id: string, weight: number): void;
  has(id: string): boolean;
  weightOf(id: string): number | undefined;
  /** Members sorted by id. */
  members(): string[];
  /** The preferred member for a key; undefined when there are no members. */
  lookup(key: string): string | undefined;
  /** Same as lookup, for a key already hashed with {@link hashKey}. */
  lookupHash(keyHash: number): string | undefined;
  /**
   * The first member in the key's preference order that `accept` takes. Each distinct member is offered
   * at most once, so this ends after at most `size` calls to `accept`.
   */
  lookupWhere(key: string, accept: AcceptInstance): string | undefined;
  /**
   * Walks the key's preference order (the ring walk, for a ring): calls `visit` with each distinct member
   * in turn until it returns true. Returns the member it stopped at, or undefined when all were passed over.
   */
  walkHash(keyHash: number, visit: AcceptInstance): string | undefined;
  /** Every member, once each, in the key's preference order. */
  candidates(key: string): string[];
}

/** The hash every balancer applies to request keys (xxHash32, seed 0). */
export function hashKey(key: string): number {
  return hashString(key, 0);
}

export function checkWeight(weight: number): number {
  if (!Number.isFinite(weight) || weight <= 0) {
    throw new RangeError(`weight must be a finite number > 0, got ${weight}`);
  }
  return weight;
}

/**
 * Generation stamps make "have I offered this member already in this walk?" an array read, with no Set
 * allocated per lookup: bumping the generation forgets every mark at once.
 */
export class VisitMarks {
  private marks = new Uint32Array(16);
  private generation = 0;

  begin(capacity: number): void {
    if (this.marks.length < capacity) this.marks = new Uint32Array(Math.max(capacity, this.marks.length * 2));
    this.generation = (this.generation + 1) >>> 0;
    if (this.generation === 0) {
      this.marks.fill(0);
      this.generation = 1;
    }
  }

  /** Marks `index`; true when it was not marked yet in this walk. */
  mark(index: number): boolean {
    if (this.marks[index] === this.generation) return false;
    this.marks[index] = this.generation;
    return true;
  }
}
