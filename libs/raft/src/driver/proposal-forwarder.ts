import type { NodeId, ProposeRefusal, ProposeRequest, ProposeResponse } from '../types.js';

/**
 * A follower's side of forwarding proposals to the leader over the peer link (etcd's MsgProp), as pure
 * bookkeeping: no timers, no sockets. The driver enqueues each client's encoded command, drains the queue into
 * `propose` messages once per event-loop turn (so one client waits for no batching timer and many clients
 * share a message), and feeds back the leader's `proposeResp`. What comes out says, per waiter, either the
 * entry (index and term) it became, or that it was refused (nothing appended: safe to retry), or that its
 * outcome is unknown (the request or the answer was lost on the way; the entry may still commit).
 */
export interface ForwarderLimits {
  /** Proposals per `propose` message. */
  readonly entriesPerMessageMax: number;
  /** Bytes of proposal data per `propose` message (the transport's frame limit is far above). */
  readonly bytesPerMessageMax: number;
  /** Proposals queued or in flight; beyond it `enqueue` refuses (the caller answers "overloaded"). */
  readonly pendingMax: number;
}

export const defaultForwarderLimits: ForwarderLimits = {
  entriesPerMessageMax: 1024,
  bytesPerMessageMax: 4 * 1024 * 1024,
  pendingMax: 16_384,
};

export interface ForwardOutcome<W> {
  /** Appended by the leader: the waiter's answer comes when this node applies `index`. */
  readonly placed: { readonly waiter: W; readonly index: number; readonly term: number }[];
  /** Refused by the leader: nothing was appended. */
  readonly refused: {
    readonly waiter: W;
    readonly refusal: ProposeRefusal;
    readonly leaderHint: NodeId | null;
  }[];
  /** Lost on the way (an earlier message on the same link got no answer): may or may not be appended. */
  readonly unknown: W[];
}

interface InFlight<W> {
  readonly leader: NodeId;
  readonly waiters: W[];
  readonly sentAtTick: number;
}

export class ProposalForwarder<W> {
  private queued: { data: Uint8Array; waiter: W }[] = [];
  private readonly inFlight = new Map<number, InFlight<W>>();
  private pending = 0;
  private nextContext = 1;

  constructor(
    private readonly self: NodeId,
    private readonly limits: ForwarderLimits = defaultForwarderLimits,
  ) {}

  /** Queues a proposal. Returns `'first'` when the queue was empty (drain it this turn), `'full'` to refuse. */
  enqueue(data: Uint8Array, waiter: W): 'first' | 'queued' | 'full' {
    if (this.pending >= this.limits.pendingMax) return 'full';
    this.queued.push({ data, waiter });
    this.pending++;
    return this.queued.length === 1 ? 'first' : 'queued';
  }

  /** Everything queued, as `propose` messages to `leader`, each remembered until answered. */
  drain(leader: NodeId, term: number, tick: number): ProposeRequest[] {
    const messages: ProposeRequest[] = [];
    const queued = this.queued;
    this.queued = [];
    let i = 0;
    while (i < queued.length) {
      const entries: Uint8Array[] = [];
      const waiters: W[] = [];
      let bytes = 0;
      while (
        i < queued.length &&
        entries.length < this.limits.entriesPerMessageMax &&
        (entries.length === 0 || bytes + queued[i]!.data.length <= this.limits.bytesPerMessageMax)
      ) {
        entries.push(queued[i]!.data);
        waiters.push(queued[i]!.waiter);
        bytes += queued[i]!.data.length;
        i++;
      }
      const context = this.nextContext++;
      this.inFlight.set(context, { leader, waiters, sentAtTick: tick });
      messages.push({ type: 'propose', from: this.self, to: leader, term, context, entries });
    }
    return messages;
  }

  /** Takes back what is queued, e.g. this node became the leader and proposes it itself, or no leader is known. */
  takeQueued(): { data: Uint8Array; waiter: W }[] {
    const queued = this.queued;
    this.pending -= queued.length;
    this.queued = [];
    return queued;
  }

  /**
   * The leader's answer. Messages on one peer link arrive in order, so an unanswered message sent earlier to
   * the same leader was lost (dropped from a full queue, or its answer was): its waiters' outcome is unknown.
   * An answer to a context not in flight (already given up) changes nothing.
   */
  answer(response: ProposeResponse): ForwardOutcome<W> {
    const outcome: ForwardOutcome<W> = { placed: [], refused: [], unknown: [] };
    const batch = this.inFlight.get(response.context);
    if (batch === undefined || batch.leader !== response.from) return outcome;
    for (const [context, earlier] of this.inFlight) {
      if (context >= response.context) break;
      if (earlier.leader !== response.from) continue;
      this.forget(context, earlier);
      outcome.unknown.push(...earlier.waiters);
    }
    this.forget(response.context, batch);
    const accepted = Math.min(response.accepted, batch.waiters.length);
    for (let k = 0; k < accepted; k++) {
      outcome.placed.push({ waiter: batch.waiters[k]!, index: response.index + k, term: response.term });
    }
    for (let k = accepted; k < batch.waiters.length; k++) {
      outcome.refused.push({
        waiter: batch.waiters[k]!,
        refusal: response.refusal ?? 'overloaded',
        leaderHint: response.leaderHint ?? null,
      });
    }
    return outcome;
  }

  /**
   * Gives up on messages sent to another node than `leader` (leadership moved) or before `tickMin` (their
   * waiters have timed out): their outcome is unknown.
   */
  abandon(leader: NodeId | null, tickMin: number): W[] {
    const lost: W[] = [];
    for (const [context, batch] of this.inFlight) {
      if (batch.leader !== leader || batch.sentAtTick < tickMin) {
        this.forget(context, batch);
        lost.push(...batch.waiters);
      }
    }
    return lost;
  }

  /** Proposals queued or awaiting the leader's answer (not those placed: the driver tracks them by index). */
  size(): number {
    return this.pending;
  }

  private forget(context: number, batch: InFlight<W>): void {
    this.inFlight.delete(context);
    this.pending -= batch.waiters.length;
  }
}
