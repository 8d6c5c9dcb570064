import { Xoshiro128 } from '@concord/raft';
import { compareBallots, formatBallot, sameValue, type Ballot, type Value } from '../ballot.js';
import { Acceptor, Learner, Proposer, type SingleMessage } from '../single/single-decree.js';

/**
 * One single-decree Paxos run as a timeline, for people to watch (the console's Paxos panel): proposers and
 * acceptors from ../single, a seeded network that delays each message 1-10 ms and drops `dropPercent` of them, and
 * a proposer that has not seen its value chosen within its timeout starting a higher ballot. Everything follows from
 * the seed: the same options give the same events. Pure; bounded by `eventsMax` and `durationMsMax`.
 */

export interface SingleDecreeRunOptions {
  readonly seed: number;
  /** Acceptors, 3 to 7. Default 3. */
  readonly acceptors?: number;
  /** Proposers, 1 to 3; two or more duel. Default 1. */
  readonly proposers?: number;
  /** Messages lost, 0 to 50 percent. Default 0. */
  readonly dropPercent?: number;
  readonly eventsMax?: number;
  readonly durationMsMax?: number;
}

export type PaxosRunEventKind = SingleMessage['type'] | 'chosen' | 'timeout';

export interface PaxosRunEvent {
  /** Simulated time, in milliseconds from the start. */
  readonly atMs: number;
  readonly kind: PaxosRunEventKind;
  readonly from: string;
  /** The receiver; for `chosen`, the learner that saw a majority. */
  readonly to: string;
  /** `round.proposer` */
  readonly ballot: string;
  /** The value carried (accept, accepted, chosen, a promise's previously accepted one); null when none. */
  readonly value: string | null;
  /** True for a message the network lost. */
  readonly dropped: boolean;
}

export interface PaxosRun {
  readonly seed: number;
  readonly acceptors: readonly string[];
  readonly proposers: readonly string[];
  readonly dropPercent: number;
  readonly events: readonly PaxosRunEvent[];
  /** The value chosen, when and in which ballot; null when the run ended first (the bounds, or dueling). */
  readonly chosen: { readonly value: string; readonly atMs: number; readonly ballot: string } | null;
  readonly messages: number;
  readonly ballots: number;
  /** True when the run stopped at eventsMax or durationMsMax. */
  readonly truncated: boolean;
}

const EVENTS_MAX_DEFAULT = 400;
const DURATION_MS_MAX_DEFAULT = 2_000;
const TIMEOUT_MS_MIN = 40;
const TIMEOUT_MS_SPREAD = 40;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (value: Value | undefined): string | null => (value ? decoder.decode(value) : null);

interface InFlight {
  readonly atMs: number;
  readonly order: number;
  readonly message: SingleMessage;
}

export function runSingleDecree(options: SingleDecreeRunOptions): PaxosRun {
  const acceptorCount = clamp(options.acceptors ?? 3, 3, 7);
  const proposerCount = clamp(options.proposers ?? 1, 1, 3);
  const dropPercent = clamp(options.dropPercent ?? 0, 0, 50);
  const eventsMax = options.eventsMax ?? EVENTS_MAX_DEFAULT;
  const durationMsMax = options.durationMsMax ?? DURATION_MS_MAX_DEFAULT;
  const random = new Xoshiro128(options.seed);

  const acceptorIds = Array.from({ length: acceptorCount }, (_, i) => `a${i + 1}`);
  const proposerIds = Array.from({ length: proposerCount }, (_, i) => `p${i + 1}`);
  const acceptors = new Map(acceptorIds.map((id) => [id, new Acceptor(id)]));
  const proposers = new Map(
    proposerIds.map((id) => [id, new Proposer(id, acceptorIds, encoder.encode(`value-of-${id}`))]),
  );
  const learner = new Learner(acceptorCount);
  const events: PaxosRunEvent[] = [];
  const queue: InFlight[] = [];
  /** When each proposer gives its ballot up and starts a higher one, unless its value was chosen. */
  const timeouts = new Map<string, number>();
  let order = 0;
  let messages = 0;
  let ballots = 0;
  let chosen: PaxosRun['chosen'] = null;
  let chosenValue: Value | undefined;
  let nowMs = 0;

  const record = (
    kind: PaxosRunEventKind,
    m: { from: string; to: string; ballot: Ballot },
    value: string | null,
    dropped = false,
  ) =>
    events.push({
      atMs: nowMs,
      kind,
      from: m.from,
      to: m.to,
      ballot: formatBallot(m.ballot),
      value,
      dropped,
    });
  const carried = (m: SingleMessage): string | null =>
    m.type === 'accept' || m.type === 'accepted'
      ? text(m.value)
      : m.type === 'promise'
        ? text(m.accepted?.value)
        : null;
  const send = (out: readonly SingleMessage[]): void => {
    for (const message of out) {
      messages++;
      const lost = random.int(100) < dropPercent;
      if (lost) {
        record(message.type, message, carried(message), true);
        continue;
      }
      queue.push({ atMs: nowMs + 1 + random.int(10), order: order++, message });
    }
  };
  const startBallot = (id: string): void => {
    const proposer = proposers.get(id);
    if (proposer === undefined) return;
    ballots++;
    timeouts.set(id, nowMs + TIMEOUT_MS_MIN + random.int(TIMEOUT_MS_SPREAD));
    send(proposer.prepare());
  };

  // Proposers wake up a few milliseconds apart; with two or more, their ballots compete.
  const wakeups = proposerIds.map((id) => ({ id, atMs: random.int(5) }));
  for (const w of wakeups) timeouts.set(w.id, w.atMs);

  while (events.length < eventsMax && nowMs <= durationMsMax) {
    queue.sort((a, b) => a.atMs - b.atMs || a.order - b.order);
    const nextTimeout = [...timeouts.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))[0];
    const nextMessage = queue[0];
    if (nextMessage === undefined && nextTimeout === undefined) break;
    if (nextTimeout !== undefined && (nextMessage === undefined || nextTimeout[1] < nextMessage.atMs)) {
      nowMs = nextTimeout[1];
      const proposer = proposers.get(nextTimeout[0]);
      if (proposer !== undefined && proposer.current().ballot.round > 0)
        record(
          'timeout',
          { from: nextTimeout[0], to: nextTimeout[0], ballot: proposer.current().ballot },
          null,
        );
      startBallot(nextTimeout[0]);
      continue;
    }
    queue.shift();
    if (nextMessage === undefined) break;
    nowMs = nextMessage.atMs;
    const m = nextMessage.message;
    record(m.type, m, carried(m));
    switch (m.type) {
      case 'prepare':
        send([acceptors.get(m.to)?.onPrepare(m)].filter((x): x is SingleMessage => x !== undefined));
        break;
      case 'accept':
        send([acceptors.get(m.to)?.onAccept(m)].filter((x): x is SingleMessage => x !== undefined));
        break;
      case 'promise':
        send(proposers.get(m.to)?.onPromise(m) ?? []);
        break;
      case 'nack':
        // The ballot lost to a higher one: the proposer waits for its timeout (randomized, so duels end) to retry.
        proposers.get(m.to)?.onNack(m);
        break;
      case 'accepted': {
        proposers.get(m.to)?.onAccepted(m);
        const learned = learner.onAccepted(m);
        if (learned !== null && chosen === null) {
          chosenValue = learned.value;
          chosen = { value: text(learned.value) ?? '', atMs: nowMs, ballot: formatBallot(m.ballot) };
          record('chosen', { from: m.from, to: 'learner', ballot: m.ballot }, text(learned.value));
          timeouts.clear(); // chosen: nobody needs another ballot
        } else if (learned !== null && chosenValue !== undefined && !sameValue(learned.value, chosenValue)) {
          throw new Error(`paxos: two values chosen (seed ${options.seed})`);
        }
        break;
      }
    }
  }
  // Every accepted value in a ballot at or above the chosen one must be the chosen value (P2 of the paper).
  if (chosen !== null) {
    const chosenBallot = parseBallot(chosen.ballot);
    for (const e of events) {
      if (e.kind !== 'accepted' || e.dropped) continue;
      if (compareBallots(parseBallot(e.ballot), chosenBallot) >= 0 && e.value !== chosen.value)
        throw new Error(`paxos: ballot ${e.ballot} accepted ${e.value} after ${chosen.value} was chosen`);
    }
  }
  return {
    seed: options.seed,
    acceptors: acceptorIds,
    proposers: proposerIds,
    dropPercent,
    events,
    chosen,
    messages,
    ballots,
    truncated: events.length >= eventsMax || nowMs > durationMsMax,
  };
}

function parseBallot(text: string): Ballot {
  const at = text.indexOf('.');
  return { round: Number(text.slice(0, at)), node: text.slice(at + 1) };
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, Math.trunc(value)));
}
