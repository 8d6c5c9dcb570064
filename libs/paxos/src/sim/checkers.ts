import { InvariantViolation, type NodeId } from '@concord/raft';
import { compareBallots, formatBallot, majority, sameValue, type Ballot, type Value } from '../ballot.js';

function show(v: Value): string {
  return v === null ? 'no-op' : JSON.stringify(new TextDecoder().decode(v));
}

/**
 * Paxos's safety properties, checked as the simulation runs (from the acceptors' durable state, so they hold
 * whatever the learners believe):
 * - At most one value is chosen per slot: a value is chosen when a majority of acceptors durably accepted it in
 *   one ballot; two such values for a slot, in any ballots, is a violation. One ballot never carries two values.
 * - A chosen value never changes: every value a learner learns (and every node applies) at a slot is the chosen
 *   one, on every node, across restarts.
 * - Promises never go backwards: an acceptor's promise, as any message it sent could have revealed it, never
 *   falls, not even across a crash (the promise must be durable before it is sent).
 */
export class PaxosCheckers {
  private readonly votes = new Map<string, { value: Value; from: Set<NodeId> }>();
  private readonly chosen = new Map<number, { value: Value; ballot: Ballot }>();
  private readonly learned = new Map<number, Value>();
  private readonly promiseShown = new Map<NodeId, Ballot>();
  checks = 0;

  constructor(private readonly acceptors: number) {}

  /** An acceptance reached the acceptor's disk. */
  onDurableAccept(node: NodeId, slot: number, ballot: Ballot, value: Value): void {
    const key = `${slot}@${formatBallot(ballot)}`;
    const v = this.votes.get(key) ?? { value, from: new Set<NodeId>() };
    if (!sameValue(v.value, value))
      throw new InvariantViolation(
        'one value per ballot',
        `slot ${slot} ballot ${formatBallot(ballot)} has ${show(v.value)} and ${show(value)}`,
      );
    v.from.add(node);
    this.votes.set(key, v);
    if (v.from.size < majority(this.acceptors)) return;
    const prev = this.chosen.get(slot);
    if (prev && !sameValue(prev.value, value))
      throw new InvariantViolation(
        'at most one value chosen',
        `slot ${slot}: ${show(prev.value)} chosen in ballot ${formatBallot(prev.ballot)}, ${show(value)} in ${formatBallot(ballot)}`,
      );
    if (!prev) this.chosen.set(slot, { value, ballot });
  }

  /** A node learned (applied) a slot. */
  onLearn(node: NodeId, slot: number, value: Value): void {
    this.checks++;
    const c = this.chosen.get(slot);
    if (!c)
      throw new InvariantViolation(
        'chosen value never changes',
        `${node} learned ${show(value)} at slot ${slot}, which no majority durably accepted`,
      );
    if (!sameValue(c.value, value))
      throw new InvariantViolation(
        'chosen value never changes',
        `${node} learned ${show(value)} at slot ${slot}, chosen was ${show(c.value)}`,
      );
    const l = this.learned.get(slot);
    if (l !== undefined && !sameValue(l, value))
      throw new InvariantViolation(
        'chosen value never changes',
        `slot ${slot} learned as ${show(l)} and as ${show(value)}`,
      );
    this.learned.set(slot, value);
  }

  /** A node sent a message that reveals its promise (a promise, an acceptance or a refusal). */
  onPromiseShown(node: NodeId, promised: Ballot): void {
    const p = this.promiseShown.get(node);
    if (!p || compareBallots(promised, p) > 0) this.promiseShown.set(node, promised);
  }

  /** After every event: every live node's promise is at least what it ever showed. */
  observePromise(node: NodeId, promised: Ballot): void {
    const shown = this.promiseShown.get(node);
    if (shown && compareBallots(promised, shown) < 0)
      throw new InvariantViolation(
        'promises never go backwards',
        `${node} promises ${formatBallot(promised)} after showing ${formatBallot(shown)}`,
      );
  }

  chosenCount(): number {
    return this.chosen.size;
  }

  chosenAt(slot: number): Value | undefined {
    return this.chosen.get(slot)?.value;
  }
}
