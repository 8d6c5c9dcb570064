import type { CrashRandom } from '@concord/raft';
import { ZERO_BALLOT, type Ballot, type Value } from '../ballot.js';
import type { PaxosDurableState, PaxosWrite } from '../multi/types.js';

/**
 * An acceptor's disk in memory, with a real disk's failure model: a write is durable only once synced; a crash
 * keeps a random prefix of the writes not yet synced (each write is one checksummed record: it survives whole
 * or not at all). `recover()` replays the durable records.
 */
export class MemoryAcceptorStore {
  private durable: PaxosWrite[] = [];
  private pending: PaxosWrite[] = [];
  syncs = 0;

  write(w: PaxosWrite): void {
    this.pending.push(w);
  }

  sync(): void {
    if (this.pending.length === 0) return;
    this.durable.push(...this.pending);
    this.pending = [];
    this.syncs++;
  }

  crash(random: CrashRandom): void {
    const kept = random.int(this.pending.length + 1);
    this.durable.push(...this.pending.slice(0, kept));
    this.pending = [];
  }

  recover(): PaxosDurableState {
    let promised: Ballot = ZERO_BALLOT;
    const accepted = new Map<number, { ballot: Ballot; value: Value }>();
    for (const w of this.durable) {
      if (w.promised) promised = w.promised;
      for (const a of w.accepted) accepted.set(a.slot, { ballot: a.ballot, value: a.value });
    }
    return { promised, accepted };
  }

  /** The durable promise, as recovery would find it. */
  durablePromise(): Ballot {
    return this.recover().promised;
  }
}
