import { type AcceptInstance, type Balancer, checkWeight, hashKey } from './balancer.js';
import { fmix32, hashString } from './hash.js';

const MEMBER_SEED_A = 0x68727731; // "hrw1"
const MEMBER_SEED_B = 0x68727732; // "hrw2"
const TWO_POW_32 = 4294967296;

interface Member {
  readonly id: string;
  readonly hashA: number;
  readonly hashB: number;
  weight: number;
}

/**
 * Rendezvous, or highest-random-weight, hashing (Thaler and Ravishankar 1998). Every member scores the
 * key and the best score wins; removing a member moves only its keys, adding one takes from every other
 * member in proportion. Weights use the logarithmic method (Schindelhauer and Schomaker 2005; also
 * Resch's "weighted rendezvous"): score = -weight / ln(u), u uniform in (0, 1) from the (key, member) hash,
 * which gives each member exactly its weight's share.
 *
 * No table to build, no memory beyond the member list, but a lookup costs O(n): fine for tens of
 * instances, the wrong choice for thousands.
 */
export class Rendezvous implements Balancer {
  readonly algorithm = 'rendezvous' as const;
  private readonly byId = new Map<string, Member>();
  /** Members sorted by id, so equal scores break the same way everywhere. */
  private list: Member[] = [];
  private scores = new Float64Array(0);

  get size(): number {
    return this.list.length;
  }

  add(id: string, weight = 1): void {
    checkWeight(weight);
    const existing = this.byId.get(id);
    if (existing) {
      existing.weight = weight;
      return;
    }
    const member: Member = {
      id,
      hashA: hashString(id, MEMBER_SEED_A),
      hashB: hashString(id, MEMBER_SEED_B),
      weight,
    };
    this.byId.set(id, member);
    this.list = [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  remove(id: string): boolean {
    if (!this.byId.delete(id)) return false;
    this.list = this.list.filter((m) => m.id !== id);
    return true;
  }

  setWeight(id: string, weight: number): void {
    checkWeight(weight);
    const member = this.byId.get(id);
    if (!member) throw new Error(`not a member: ${id}`);
    member.weight = weight;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  weightOf(id: string): number | undefined {
    return this.byId.get(id)?.weight;
  }

  members(): string[] {
    return this.list.map((m) => m.id);
  }

  lookup(key: string): string | undefined {
    return this.lookupHash(hashKey(key));
  }

  lookupHash(keyHash: number): string | undefined {
    let best: Member | undefined;
    let bestScore = -Infinity;
    for (const member of this.list) {
      const score = scoreOf(keyHash, member);
      if (score > bestScore) {
        bestScore = score;
        best = member;
      }
    }
    return best?.id;
  }

  lookupWhere(key: string, accept: AcceptInstance): string | undefined {
    return this.walkHash(hashKey(key), accept);
  }

  /** Members by decreasing score: a selection step per offered member, so a short walk stays O(n). */
  walkHash(keyHash: number, visit: AcceptInstance): string | undefined {
    const n = this.list.length;
    if (this.scores.length < n) this.scores = new Float64Array(n * 2);
    const scores = this.scores;
    for (let i = 0; i < n; i++) scores[i] = scoreOf(keyHash, this.list[i]!);
    for (let offered = 0; offered < n; offered++) {
      let bestIndex = -1;
      let bestScore = -Infinity;
      for (let i = 0; i < n; i++) {
        if (scores[i]! > bestScore) {
          bestScore = scores[i]!;
          bestIndex = i;
        }
      }
      if (bestIndex < 0) break;
      scores[bestIndex] = -Infinity;
      const id = this.list[bestIndex]!.id;
      if (visit(id)) return id;
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
}

/** -weight / ln(u): the member's weighted score for a key, u in (0, 1) drawn from the pair's hash. */
function scoreOf(keyHash: number, member: Member): number {
  // Two finaliser rounds, each keyed by an independent member hash, so that no simple relation between
  // two keys' hashes (such as a fixed XOR difference) carries over into their member orderings.
  const mixed = fmix32((fmix32((keyHash ^ member.hashA) >>> 0) + member.hashB) >>> 0);
  const u = (mixed + 0.5) / TWO_POW_32;
  return -member.weight / Math.log(u);
}
