/**
 * Lease deadlines, kept by the Raft leader only (as etcd's lessor): keep-alives reset a deadline in memory,
 * and an expired lease is revoked by proposing `leaseExpire` through the log, so every node deletes its keys
 * at the same revision. Time is an input (`now` in ms), never read here.
 *
 * A new leader does not know when the old one last saw a keep-alive, so on promotion every lease gets a full
 * TTL of the new leader's own: a lease can outlive its TTL by up to one election, never fall short of it.
 */
export class Lessor {
  private readonly deadlines = new Map<string, { ttlSeconds: number; deadlineMs: number }>();
  private leading = false;

  /** Every lease the state machine holds, with its TTL (called on promotion and after a snapshot restore). */
  promote(leases: readonly { id: string; ttlSeconds: number }[], nowMs: number): void {
    this.leading = true;
    this.deadlines.clear();
    for (const l of leases)
      this.deadlines.set(l.id, { ttlSeconds: l.ttlSeconds, deadlineMs: nowMs + l.ttlSeconds * 1000 });
  }

  demote(): void {
    this.leading = false;
    this.deadlines.clear();
  }

  isLeading(): boolean {
    return this.leading;
  }

  /** A lease was granted (ttl) or removed (null) by an applied entry. */
  onLeaseChange(change: { id: string; ttlSeconds: number | null }, nowMs: number): void {
    if (!this.leading) return;
    if (change.ttlSeconds === null) this.deadlines.delete(change.id);
    else
      this.deadlines.set(change.id, {
        ttlSeconds: change.ttlSeconds,
        deadlineMs: nowMs + change.ttlSeconds * 1000,
      });
  }

  /** Resets the lease's deadline; the TTL granted, or null when the lease is unknown (expired or revoked). */
  keepAlive(id: string, nowMs: number): number | null {
    const lease = this.deadlines.get(id);
    if (lease === undefined) return null;
    lease.deadlineMs = nowMs + lease.ttlSeconds * 1000;
    return lease.ttlSeconds;
  }

  /** Seconds left before the lease expires, as this leader sees it. */
  remainingSeconds(id: string, nowMs: number): number | null {
    const lease = this.deadlines.get(id);
    return lease === undefined ? null : Math.max(0, Math.ceil((lease.deadlineMs - nowMs) / 1000));
  }

  /** Leases whose deadline passed; the caller proposes `leaseExpire` for each (at most `limit` per call). */
  expired(nowMs: number, limit = 100): string[] {
    const ids: string[] = [];
    for (const [id, lease] of this.deadlines) {
      if (lease.deadlineMs <= nowMs) ids.push(id);
      if (ids.length >= limit) break;
    }
    return ids;
  }
}
