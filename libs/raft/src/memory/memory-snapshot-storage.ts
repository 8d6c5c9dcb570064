import type { SnapshotStorage } from '../ports.js';
import type { Snapshot } from '../types.js';

/** The latest snapshot, replaced atomically (a crash never leaves half of one). */
export class MemorySnapshotStorage implements SnapshotStorage {
  private latest: Snapshot | null = null;

  saveSync(snapshot: Snapshot): void {
    if (this.latest && snapshot.meta.index < this.latest.meta.index) return;
    this.latest = { meta: snapshot.meta, data: snapshot.data.slice() };
  }

  loadSync(): Snapshot | null {
    return this.latest;
  }

  async load(): Promise<Snapshot | null> {
    return this.latest;
  }

  async save(snapshot: Snapshot): Promise<void> {
    this.saveSync(snapshot);
  }
}
