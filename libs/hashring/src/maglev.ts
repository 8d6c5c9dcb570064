import { type AcceptInstance, type Balancer, VisitMarks, checkWeight, hashKey } from './balancer.js';
import { hashString } from './hash.js';

export interface MaglevOptions {
  /** Lookup table size; must be a prime well above the member count (default 65537, as in the paper). */
  readonly tableSize?: number;
}

export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;

// Seeds that make the two per-member hashes (offset, skip) independent of each other and of key hashes.
const OFFSET_SEED = 0x6d61676c; // "magl"
const SKIP_SEED = 0x65763031; // "ev01"

function isPrime(n: number): boolean {
  if (n < 2 || !Number.isInteger(n)) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/**
 * Maglev hashing (Eisenbud et al., NSDI 2016). Each member walks its own permutation of the table slots
 * (offset + j x skip mod M, M prime so every skip visits every slot) and the members take turns claiming
 * their next free slot until the table is full. A lookup is then one array read: table[hash mod M].
 *
 * Balance is near perfect (every member gets floor or ceil of M/n slots, times its weight), at the price of
 * a little more disruption than a ring when membership changes, and a full table fill (O(M log M)) per
 * change. Changes only mark the table stale; it is refilled on the next lookup, so a burst of membership
 * events costs one fill. Weights follow Envoy's scheme: a member claims a slot in a round only while its
 * claims stay within its share of the heaviest member's.
 */
export class Maglev implements Balancer {
  readonly algorithm = 'maglev' as const;
  readonly tableSize: number;
  private readonly weightById = new Map<string, number>();
  /** Sorted member ids at the last fill; table entries index into it. */
  private ids: string[] = [];
  private table = new Int32Array(0);
  private stale = true;
  private readonly marks = new VisitMarks();
  /** How many times the table was filled (for tests and metrics). */
  fills = 0;

  constructor(options: MaglevOptions = {}) {
    const size = options.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE;
    if (!isPrime(size)) throw new RangeError(`tableSize must be prime, got ${size}`);
    this.tableSize = size;
  }

  get size(): number {
    return this.weightById.size;
  }

  add(id: string, weight = 1): void {
    checkWeight(weight);
    if (this.weightById.get(id) === weight) return;
    this.weightById.set(id, weight);
    this.stale = true;
  }

  remove(id: string): boolean {
    const removed = this.weightById.delete(id);
    if (removed) this.stale = true;
    return removed;
  }

  setWeight(id: string, weight: number): void {
    if (!this.weightById.has(id)) throw new Error(`not a member: ${id}`);
    this.add(id, weight);
  }

  has(id: string): boolean {
    return this.weightById.has(id);
  }

  weightOf(id: string): number | undefined {
    return this.weightById.get(id);
  }

  members(): string[] {
    return [...this.weightById.keys()].sort();
  }

  lookup(key: string): string | undefined {
    return this.lookupHash(hashKey(key));
  }

  lookupHash(keyHash: number): string | undefined {
    if (this.stale) this.fill();
    if (this.ids.length === 0) return undefined;
    return this.ids[this.table[keyHash % this.tableSize]!];
  }

  lookupWhere(key: string, accept: AcceptInstance): string | undefined {
    return this.walkHash(hashKey(key), accept);
  }

  /**
   * Maglev itself has no fallback order; this one reads the table onward from the key's slot. Slots are
   * interleaved across members, so the next distinct member is a few slots away, and it is deterministic,
   * which keeps retries and skipped (open-breaker) instances spread rather than piled on one neighbour.
   */
  walkHash(keyHash: number, visit: AcceptInstance): string | undefined {
    if (this.stale) this.fill();
    const memberCount = this.ids.length;
    if (memberCount === 0) return undefined;
    this.marks.begin(memberCount);
    let offered = 0;
    let slot = keyHash % this.tableSize;
    for (let step = 0; step < this.tableSize && offered < memberCount; step++) {
      const member = this.table[slot]!;
      if (this.marks.mark(member)) {
        offered++;
        const id = this.ids[member]!;
        if (visit(id)) return id;
      }
      slot = slot + 1 === this.tableSize ? 0 : slot + 1;
    }
    return undefined;
  }

  candidates(key: string): string[] {
    const order: string[] = [];
    this.walkHash(hashKey(key), (id) => {
      order.push(id);
      return false;
    });
    return order;
  }

  /** Slots held by each member (for tests and the admin view). */
  slotCounts(): Map<string, number> {
    if (this.stale) this.fill();
    const counts = new Map<string, number>(this.ids.map((id) => [id, 0]));
    for (const member of this.table) {
      const id = this.ids[member]!;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }

  private fill(): void {
    this.stale = false;
    this.fills++;
    const ids = this.members();
    this.ids = ids;
    const size = this.tableSize;
    const n = ids.length;
    const table = new Int32Array(size).fill(-1);
    this.table = table;
    if (n === 0) return;

    const next = new Float64Array(n); // current position in each member's permutation
    const skip = new Float64Array(n);
    const share = new Float64Array(n); // weight / heaviest weight, in (0, 1]
    const claimed = new Float64Array(n);
    let heaviest = 0;
    for (const id of ids) heaviest = Math.max(heaviest, this.weightById.get(id)!);
    for (let m = 0; m < n; m++) {
      const id = ids[m]!;
      next[m] = hashString(id, OFFSET_SEED) % size;
      skip[m] = (hashString(id, SKIP_SEED) % (size - 1)) + 1;
      share[m] = this.weightById.get(id)! / heaviest;
    }

    let filled = 0;
    for (let round = 1; filled < size; round++) {
      for (let m = 0; m < n && filled < size; m++) {
        // Weighted turns: a member takes a slot this round only while its claims stay within round x share.
        if (claimed[m]! + 1 > round * share[m]! + 1e-9 && share[m]! < 1) continue;
        let slot = next[m]!;
        while (table[slot] !== -1) slot = (slot + skip[m]!) % size;
        table[slot] = m;
        next[m] = (slot + skip[m]!) % size;
        claimed[m] = claimed[m]! + 1;
        filled++;
      }
    }
  }
}
