import { type AcceptInstance, type Balancer, VisitMarks, checkWeight, hashKey } from './balancer.js';
import { hashString } from './hash.js';

export interface HashRingOptions {
  /** Points on the ring per unit of weight (default 160, as in Ketama and Envoy's ring_hash). */
  readonly virtualNodesPerWeight?: number;
}

export const DEFAULT_VIRTUAL_NODES_PER_WEIGHT = 160;

/**
 * Consistent hashing (Karger et al. 1997) with virtual nodes. Each member owns round(160 x weight) points,
 * point i being xxHash32(id, seed = i); a key goes to the owner of the first point at or after its hash,
 * wrapping at 2^32. Points live in two parallel typed arrays sorted by (position, owner id), so a lookup
 * is one binary search and the order does not depend on the order in which members arrived.
 *
 * Membership changes merge or filter one member's points (O(points)) instead of rebuilding and
 * re-sorting everything; because vnode i always hashes to the same place, raising a weight only adds
 * points and lowering it only removes some, so only the delta of keys moves.
 */
export class HashRing implements Balancer {
  readonly algorithm = 'ring' as const;
  private readonly virtualNodesPerWeight: number;
  /** Member slots; a removed member's slot is reused (free list), so owner indexes stay small. */
  private readonly ids: (string | undefined)[] = [];
  private readonly weights: number[] = [];
  private readonly freeSlots: number[] = [];
  private readonly slotById = new Map<string, number>();
  private positions = new Uint32Array(0);
  private owners = new Int32Array(0);
  private pointCount = 0;
  /**
   * bucketStart[b] = index of the first point whose top `bucketBits` bits are >= b. A lookup binary-searches
   * only its bucket (about one point), not the whole ring: the full search's ~11 unpredictable branches
   * cost more than the hash itself.
   */
  private bucketStart = new Uint32Array(3);
  private bucketShift = 31;
  private readonly marks = new VisitMarks();

  constructor(options: HashRingOptions = {}) {
    const perWeight = options.virtualNodesPerWeight ?? DEFAULT_VIRTUAL_NODES_PER_WEIGHT;
    if (!Number.isInteger(perWeight) || perWeight < 1) {
      throw new RangeError(`virtualNodesPerWeight must be an integer >= 1, got ${perWeight}`);
    }
    this.virtualNodesPerWeight = perWeight;
  }

  get size(): number {
    return this.slotById.size;
  }

  /** Total number of points on the ring (for metrics and tests). */
  get points(): number {
    return this.pointCount;
  }

  add(id: string, weight = 1): void {
    checkWeight(weight);
    if (this.slotById.has(id)) {
      this.setWeight(id, weight);
      return;
    }
    const slot = this.freeSlots.pop() ?? this.ids.length;
    this.ids[slot] = id;
    this.weights[slot] = weight;
    this.slotById.set(id, slot);
    this.insertPoints(slot);
  }

  /**
   * Adds several members with one sort and one merge (a gateway applying a batch of registry events):
   * the result is the same as adding them one by one. Existing members get their new weight.
   */
  addAll(members: Iterable<{ readonly id: string; readonly weight?: number }>): void {
    const fresh: number[] = [];
    for (const { id, weight = 1 } of members) {
      checkWeight(weight);
      const existing = this.slotById.get(id);
      if (existing !== undefined && fresh.includes(existing)) {
        this.weights[existing] = weight; // listed twice in this batch: its points are not placed yet
        continue;
      }
      if (existing !== undefined) {
        this.setWeight(id, weight);
        continue;
      }
      const slot = this.freeSlots.pop() ?? this.ids.length;
      this.ids[slot] = id;
      this.weights[slot] = weight;
      this.slotById.set(id, slot);
      fresh.push(slot);
    }
    if (fresh.length > 0) this.insertPointsOf(fresh);
  }

  remove(id: string): boolean {
    const slot = this.slotById.get(id);
    if (slot === undefined) return false;
    this.removePoints(slot);
    this.slotById.delete(id);
    this.ids[slot] = undefined;
    this.freeSlots.push(slot);
    return true;
  }

  setWeight(id: string, weight: number): void {
    checkWeight(weight);
    const slot = this.slotById.get(id);
    if (slot === undefined) throw new Error(`not a member: ${id}`);
    if (this.weights[slot] === weight) return;
    // Vnode seeds are 0..count-1 whatever the weight, so remove-then-insert lands on a superset or
    // subset of the old points: only the keys of the added or dropped points move.
    this.removePoints(slot);
    this.weights[slot] = weight;
    this.insertPoints(slot);
  }

  has(id: string): boolean {
    return this.slotById.has(id);
  }

  weightOf(id: string): number | undefined {
    const slot = this.slotById.get(id);
    return slot === undefined ? undefined : this.weights[slot];
  }

  members(): string[] {
    return [...this.slotById.keys()].sort();
  }

  lookup(key: string): string | undefined {
    return this.lookupHash(hashKey(key));
  }

  lookupHash(keyHash: number): string | undefined {
    if (this.pointCount === 0) return undefined;
    const index = this.firstPointAtOrAfter(keyHash);
    return this.ids[this.owners[index]!];
  }

  lookupWhere(key: string, accept: AcceptInstance): string | undefined {
    return this.walkHash(hashKey(key), accept);
  }

  walkHash(keyHash: number, visit: AcceptInstance): string | undefined {
    const count = this.pointCount;
    if (count === 0) return undefined;
    const memberCount = this.slotById.size;
    this.marks.begin(this.ids.length);
    let offered = 0;
    let index = this.firstPointAtOrAfter(keyHash);
    for (let step = 0; step < count && offered < memberCount; step++) {
      const slot = this.owners[index]!;
      if (this.marks.mark(slot)) {
        offered++;
        const id = this.ids[slot]!;
        if (visit(id)) return id;
      }
      index = index + 1 === count ? 0 : index + 1;
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

  /** Index of the first point with position >= hash, wrapping to 0 past the last point. */
  private firstPointAtOrAfter(hash: number): number {
    const positions = this.positions;
    const bucket = hash >>> this.bucketShift;
    let low = this.bucketStart[bucket]!;
    let high = this.bucketStart[bucket + 1]!;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (positions[mid]! < hash) low = mid + 1;
      else high = mid;
    }
    return low === this.pointCount ? 0 : low;
  }

  /** Rebuilds the bucket index after a membership change: O(points + buckets). */
  private indexBuckets(): void {
    // About one point per bucket: 2^ceil(log2(points)) buckets, at least 2 and at most 2^20.
    const bits = Math.min(20, Math.max(1, Math.ceil(Math.log2(Math.max(2, this.pointCount)))));
    const buckets = 2 ** bits;
    const shift = 32 - bits;
    const start = new Uint32Array(buckets + 1);
    let point = 0;
    for (let b = 0; b <= buckets; b++) {
      while (point < this.pointCount && this.positions[point]! >>> shift < b) point++;
      start[b] = point;
    }
    this.bucketStart = start;
    this.bucketShift = shift;
  }

  private pointCountFor(slot: number): number {
    return Math.max(1, Math.round(this.virtualNodesPerWeight * this.weights[slot]!));
  }

  private insertPoints(slot: number): void {
    this.insertPointsOf([slot]);
  }

  /**
   * Merges the points of the given (new) slots into the ring. The new points are sorted once, by
   * position then owner id, then merged with the existing run: adding a batch costs one merge.
   */
  private insertPointsOf(slots: readonly number[]): void {
    // Pack (position, rank of owner id in the batch) into one exactly representable double
    // (2^32 x 2^16 < 2^53), so a numeric typed-array sort orders by position, then id.
    const batch = [...slots].sort((x, y) => (this.ids[x]! < this.ids[y]! ? -1 : 1));
    if (batch.length > 65536) throw new RangeError('at most 65536 members per batch');
    let total = 0;
    for (const slot of batch) total += this.pointCountFor(slot);
    const packed = new Float64Array(total);
    let n = 0;
    batch.forEach((slot, rank) => {
      const id = this.ids[slot]!;
      const count = this.pointCountFor(slot);
      for (let i = 0; i < count; i++) packed[n++] = hashString(id, i) * 65536 + rank;
    });
    packed.sort();
    const added = new Uint32Array(total);
    const addedOwners = new Int32Array(total);
    for (let i = 0; i < total; i++) {
      const value = packed[i]!;
      added[i] = Math.floor(value / 65536);
      addedOwners[i] = batch[value % 65536]!;
    }

    const oldCount = this.pointCount;
    const newCount = oldCount + added.length;
    const oldPositions = this.positions;
    const oldOwners = this.owners;
    const positions = new Uint32Array(newCount);
    const owners = new Int32Array(newCount);
    // Merge of two sorted runs: O(old + added), no global re-sort.
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < oldCount && j < added.length) {
      const oldPosition = oldPositions[i]!;
      const addedPosition = added[j]!;
      const takeOld =
        oldPosition < addedPosition ||
        (oldPosition === addedPosition && this.ids[oldOwners[i]!]! < this.ids[addedOwners[j]!]!);
      if (takeOld) {
        positions[k] = oldPosition;
        owners[k++] = oldOwners[i++]!;
      } else {
        positions[k] = addedPosition;
        owners[k++] = addedOwners[j++]!;
      }
    }
    while (i < oldCount) {
      positions[k] = oldPositions[i]!;
      owners[k++] = oldOwners[i++]!;
    }
    while (j < added.length) {
      positions[k] = added[j]!;
      owners[k++] = addedOwners[j++]!;
    }
    this.positions = positions;
    this.owners = owners;
    this.pointCount = newCount;
    this.indexBuckets();
  }

  private removePoints(slot: number): void {
    let kept = 0;
    for (let i = 0; i < this.pointCount; i++) {
      if (this.owners[i] === slot) continue;
      this.positions[kept] = this.positions[i]!;
      this.owners[kept] = this.owners[i]!;
      kept++;
    }
    this.pointCount = kept;
    // Typed arrays keep their length; shrink so later merges size from the live count.
    this.positions = this.positions.slice(0, kept);
    this.owners = this.owners.slice(0, kept);
    this.indexBuckets();
  }
}
