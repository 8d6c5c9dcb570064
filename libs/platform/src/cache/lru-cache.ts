/**
 * A bounded least-recently-used map whose entries also expire after `ttlMs`: the per-instance read cache for hot
 * reads. Pure: time comes from `nowMs`, so tests decide when an entry is stale.
 *
 * Staleness is bounded two ways. Writes on this instance call `delete` after they commit; writes on other instances
 * are seen at the latest `ttlMs` later. `load` guards against the one race an invalidation cannot see by itself:
 * a read that started before a write and finished after its invalidation would put the old value back, so a value
 * loaded across an invalidation is returned but not cached.
 */
export class LruCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAtMs: number }>();
  private invalidations = 0;

  constructor(
    readonly maxEntries: number,
    readonly ttlMs: number,
    private readonly nowMs: () => number,
  ) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0)
      throw new RangeError('maxEntries must be an integer >= 0');
    if (ttlMs < 0) throw new RangeError('ttlMs must be >= 0');
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached value, or undefined when absent or expired. A hit becomes the most recently used entry. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresAtMs <= this.nowMs()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    if (this.maxEntries === 0 || this.ttlMs === 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAtMs: this.nowMs() + this.ttlMs });
    // Map iterates in insertion order, and every hit re-inserts: the first key is the least recently used.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.invalidations += 1;
    this.entries.delete(key);
  }

  clear(): void {
    this.invalidations += 1;
    this.entries.clear();
  }

  /**
   * The cached value (`hit: true`), or the loaded one (`hit: false`), cached unless an invalidation happened while
   * it loaded. An undefined load result (not found) is not cached.
   */
  async load(
    key: string,
    loader: () => Promise<V | undefined>,
  ): Promise<{ value: V | undefined; hit: boolean }> {
    const cached = this.get(key);
    if (cached !== undefined) return { value: cached, hit: true };
    const before = this.invalidations;
    const value = await loader();
    if (value !== undefined && this.invalidations === before) this.set(key, value);
    return { value, hit: false };
  }
}
