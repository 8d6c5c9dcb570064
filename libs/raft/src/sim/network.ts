import type { NodeId } from '../types.js';

/** Per-message faults. Delays in virtual milliseconds. */
export interface NetworkFaults {
  readonly dropProbability: number;
  readonly duplicateProbability: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** A few messages are held back much longer, which reorders them behind later ones. */
  readonly longDelayProbability: number;
  readonly longDelayMaxMs: number;
}

export const reliableNetwork: NetworkFaults = {
  dropProbability: 0,
  duplicateProbability: 0,
  minDelayMs: 1,
  maxDelayMs: 3,
  longDelayProbability: 0,
  longDelayMaxMs: 0,
};

/** Close to the MIT 6.5840 lab's unreliable network: 10% loss, delays up to 27 ms, some long ones. */
export const unreliableNetwork: NetworkFaults = {
  dropProbability: 0.1,
  duplicateProbability: 0.02,
  minDelayMs: 0,
  maxDelayMs: 27,
  longDelayProbability: 0.05,
  longDelayMaxMs: 400,
};

/** Directed links that are cut; a partition is a set of them. */
export class LinkTable {
  private readonly cut = new Set<string>();

  blocked(from: NodeId, to: NodeId): boolean {
    return this.cut.size > 0 && this.cut.has(`${from}>${to}`);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  cutBoth(a: NodeId, b: NodeId): void {
    this.cutOneWay(a, b);
    this.cutOneWay(b, a);
  }

  restoreBoth(a: NodeId, b: NodeId): void {
    this.cut.delete(`${a}>${b}`);
    this.cut.delete(`${b}>${a}`);
  }

  /** Groups can talk inside, not across. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const [gi, g] of groups.entries()) {
      for (const [hi, h] of groups.entries()) {
        if (gi === hi) continue;
        for (const a of g) for (const b of h) this.cutOneWay(a, b);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  describe(): string {
    return [...this.cut].sort().join(' ');
  }
}
