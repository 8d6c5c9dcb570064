/**
 * The leader's view of one follower (etcd-io/raft's tracker.Progress).
 * - `probe`: at most one append in flight until the follower's position is found (after a reject or
 *   on election); a heartbeat response re-opens the probe.
 * - `replicate`: appends are pipelined, `next` advanced optimistically, at most `maxInflight` unacked.
 * - `snapshot`: the follower is behind the leader's first log index; chunks of the snapshot are sent.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append has been sent and not answered since the last heartbeat response. */
  probeSent = false;
  /** An append was acknowledged since the last heartbeat response (replicate-state stall detection). */
  ackedSinceHeartbeat = false;
  /** Heard from since the last check-quorum round. */
  recentActive = true;
  /** Last index of each unacknowledged append, oldest first (replicate state). */
  private readonly inflight: number[] = [];
  /** Snapshot state: the snapshot index being sent and the next byte offset to send. */
  snapshotIndex = 0;
  snapshotOffset = 0;

  constructor(
    next: number,
    readonly maxInflight: number,
    public isLearner: boolean,
  ) {
    this.next = next;
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.snapshotIndex + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = 'probe';
    this.probeSent = false;
    this.inflight.length = 0;
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.inflight.length = 0;
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.snapshotIndex = index;
    this.snapshotOffset = 0;
    this.inflight.length = 0;
  }

  /** A successful append response; false when stale (nothing new). */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      updated = true;
      this.ackedSinceHeartbeat = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift();
    return updated;
  }

  /** A rejected append at `rejected` with a hint of where to go next; false when the reject is stale. */
  maybeDecrease(rejected: number, hintNext: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = Math.max(this.match + 1, Math.min(rejected, hintNext));
      return true;
    }
    if (rejected !== this.next - 1) return false;
    this.next = Math.max(this.match + 1, Math.min(rejected, hintNext), 1);
    this.probeSent = false;
    return true;
  }

  sentAppend(lastIndex: number, count: number): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflight.push(lastIndex);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= this.maxInflight;
      case 'snapshot':
        return true;
    }
  }

  inflightCount(): number {
    return this.inflight.length;
  }
}
