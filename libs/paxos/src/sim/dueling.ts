import type { NodeId } from '@concord/raft';
import { commandTag, encodeTaggedCommand } from './kv-clients.js';
import { PaxosCluster } from './paxos-cluster.js';

export interface DuelResult {
  readonly leaderElection: boolean;
  readonly virtualMs: number;
  /** Commands submitted and commands chosen (no-ops excluded). */
  readonly submitted: number;
  readonly chosen: number;
  /** Phase 1 rounds started, by all nodes. */
  readonly phase1Runs: number;
  readonly nacks: number;
  readonly messages: number;
}

/**
 * The dueling proposers of "Paxos Made Simple" §2.4: two clients keep handing commands to two different nodes of
 * a three-node cluster, on a clean network with one fixed delay. With leader election off, each node runs phase 1
 * for its client's command as soon as it has one and retries at once when preempted: each prepare outbids the
 * other's ballot before its accepts land, and nothing is chosen. With election on, one node leads (the other
 * refuses and names it) and every command is chosen.
 */
export function runDuel(leaderElection: boolean, virtualMs = 5000, seed = 17): DuelResult {
  const ids: NodeId[] = ['n1', 'n2', 'n3'];
  const cluster = new PaxosCluster({
    seed,
    ids,
    network: {
      dropProbability: 0,
      duplicateProbability: 0,
      minDelayMs: 5,
      maxDelayMs: 5,
      longDelayProbability: 0,
      longDelayMaxMs: 0,
    },
    disk: { minSyncMs: 1, maxSyncMs: 1 },
    paxos: { leaderElection },
  });
  let submitted = 0;
  let chosen = 0;
  let nacks = 0;
  // Closed-loop clients: one command each at a time, the next once the last is chosen.
  const waitingFor = new Map<string, number>();
  cluster.onApply((e) => {
    if (e.node !== 'n3' || e.value === null) return;
    chosen++;
    const tag = commandTag(e.value);
    const client = tag === undefined ? undefined : waitingFor.get(tag);
    if (client === undefined) return;
    waitingFor.delete(tag!);
    cluster.after(1, () => submit(client));
  });
  cluster.onSend((m) => {
    if (m.type === 'nack') nacks++;
  });
  // Each client starts at its own node; with election on it follows the leader's hint when refused.
  const target = ['n1', 'n2'];
  const submit = (client: number): void => {
    const tag = `d${client}-${submitted}`;
    const r = cluster.propose(target[client]!, encodeTaggedCommand({ op: 'put', key: 'k', value: tag }, tag));
    if (r.ok) {
      submitted++;
      waitingFor.set(tag, client);
      return;
    }
    if (r.leaderHint) target[client] = r.leaderHint;
    cluster.after(20, () => submit(client));
  };
  cluster.after(200, () => submit(0));
  cluster.after(200, () => submit(1));
  cluster.runFor(virtualMs);
  const phase1Runs = ids.reduce((s, id) => s + (cluster.status(id)?.phase1Started ?? 0), 0);
  return { leaderElection, virtualMs, submitted, chosen, phase1Runs, nacks, messages: cluster.messagesSent };
}
