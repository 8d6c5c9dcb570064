import type { Xoshiro128 } from '../core/prng.js';
import type { NodeId } from '../types.js';
import type { LinkTable, NetworkFaults } from './network.js';

/**
 * What the fault schedule needs of a simulated cluster, whatever protocol it runs (Raft, Multi-Paxos):
 * links to cut, nodes to crash and restart, a way to wait for the worst moment to crash, and who leads.
 */
export interface FaultTarget {
  readonly links: LinkTable;
  runUntil(done: () => boolean, maxMs: number): boolean;
  isUp(id: NodeId): boolean;
  /** A write handed to the disk and not yet synced: the moment a crash loses the most. */
  isPersisting(id: NodeId): boolean;
  crash(id: NodeId): void;
  restart(id: NodeId): void;
  /** A node that believes it leads, if any (crashing it forces a leader change). */
  someLeader(): NodeId | undefined;
}

/**
 * The faults a protocol adds to the shared schedule: roll 7 (a leadership change the protocol can ask
 * for: Raft's transfer, Paxos's takeover by a higher ballot) and roll 8 (Raft: a membership change).
 * Each returns the line the trace prints.
 */
export interface ProtocolFaults {
  leadershipChange(r: Xoshiro128): string;
  membershipChange(r: Xoshiro128): string;
}

/** The network a seed picks (shared by every protocol so that a comparison sees the same faults). */
export function pickNetworkFaults(r: Xoshiro128): NetworkFaults {
  return {
    dropProbability: r.chance(0.3) ? 0 : r.next() * 0.2,
    duplicateProbability: r.next() * 0.05,
    minDelayMs: r.int(2),
    maxDelayMs: 2 + r.int(25),
    longDelayProbability: r.next() * 0.05,
    longDelayMaxMs: 50 + r.int(300),
  };
}

/**
 * The delays (virtual ms) of the copies of one message under `f`: none if it is dropped, two if it is
 * duplicated, each possibly held back long enough to be reordered behind later messages.
 */
export function deliveryDelays(f: NetworkFaults, r: Xoshiro128): number[] {
  if (f.dropProbability > 0 && r.next() < f.dropProbability) return [];
  const copies = f.duplicateProbability > 0 && r.next() < f.duplicateProbability ? 2 : 1;
  const out: number[] = [];
  for (let c = 0; c < copies; c++) {
    let delay = f.minDelayMs + r.int(f.maxDelayMs - f.minDelayMs + 1);
    if (f.longDelayProbability > 0 && r.next() < f.longDelayProbability) delay += r.int(f.longDelayMaxMs + 1);
    out.push(delay);
  }
  return out;
}

/**
 * One fault, drawn from `r`: partitions (minority, majority, bridge, one-way), crashes (half of them
 * aimed at a node between write and sync), restarts, a protocol's own leadership or membership change,
 * or healing. The draw order is fixed, so a seed replays the same schedule on any protocol.
 */
export function injectFault(
  c: FaultTarget,
  r: Xoshiro128,
  ids: readonly NodeId[],
  protocol: ProtocolFaults,
): string {
  const pick = (): NodeId => ids[r.int(ids.length)]!;
  const shuffled = [...ids];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  const minority = Math.floor((ids.length - 1) / 2);
  const roll = r.int(11);
  switch (roll) {
    case 0: {
      const k = 1 + r.int(minority);
      c.links.heal();
      c.links.partition([shuffled.slice(0, k), shuffled.slice(k)]);
      return `partition minority ${shuffled.slice(0, k).join(',')} | ${shuffled.slice(k).join(',')}`;
    }
    case 1: {
      // A majority cut away from the rest, leaving the old leader maybe on the small side.
      const k = minority + 1;
      c.links.heal();
      c.links.partition([shuffled.slice(0, k), shuffled.slice(k)]);
      return `partition majority ${shuffled.slice(0, k).join(',')} | ${shuffled.slice(k).join(',')}`;
    }
    case 2: {
      // Bridge: two halves that cannot talk, and one node that talks to both.
      const bridge = shuffled[0]!;
      const rest = shuffled.slice(1);
      const half = Math.floor(rest.length / 2);
      c.links.heal();
      c.links.partition([rest.slice(0, half), rest.slice(half)]);
      return `bridge ${bridge} between ${rest.slice(0, half).join(',')} and ${rest.slice(half).join(',')}`;
    }
    case 3: {
      const a = pick();
      const b = pick();
      if (a !== b) c.links.cutOneWay(a, b);
      return `one-way ${a} -> ${b} cut`;
    }
    case 4:
    case 5: {
      // Half the crashes wait (briefly) for a node to be between write and sync, where a crash loses the most.
      const targeted = r.chance(0.5) && c.runUntil(() => ids.some((id) => c.isPersisting(id)), 50);
      const persisting = ids.filter((id) => c.isPersisting(id));
      const victim = targeted
        ? persisting[r.int(persisting.length)]!
        : r.chance(0.5)
          ? (c.someLeader() ?? pick())
          : pick();
      c.crash(victim);
      return `crash ${victim}`;
    }
    case 6: {
      const down = ids.filter((id) => !c.isUp(id));
      const id = down[r.int(down.length)];
      if (id === undefined) return 'restart: nothing down';
      c.restart(id);
      return `restart ${id}`;
    }
    case 7:
      return protocol.leadershipChange(r);
    case 8:
      return protocol.membershipChange(r);
    default:
      c.links.heal();
      for (const id of ids) if (!c.isUp(id) && r.chance(0.5)) c.restart(id);
      return 'heal';
  }
}
