import { checkKv, type KvOperation } from '@concord/lincheck';
import type { Xoshiro128 } from '../core/prng.js';
import type { KvCommand, KvResult } from '../kv/kv-state-machine.js';
import type { NodeId } from '../types.js';
import { InvariantViolation } from './checkers.js';
import { injectFault, type FaultTarget, type ProtocolFaults } from './fault-schedule.js';
import { reliableNetwork, type NetworkFaults } from './network.js';

/**
 * The run shape every protocol's simulation shares (Raft, Multi-Paxos): a safety phase of faults at random
 * moments, healing, a protocol-specific liveness probe, then the clients stopped, drained and their history
 * checked for linearizability. Each protocol keeps only what differs: its cluster, its faults and its probe.
 */

/** A simulated cluster as the shared run shape sees it. */
export interface SimulatedCluster extends FaultTarget {
  readonly now: number;
  network: NetworkFaults;
  runFor(ms: number): void;
}

/** Simulated clients as the shared run shape sees them. */
export interface SimulatedClients {
  readonly history: readonly KvOperation[];
  stop(): void;
  drain(): void;
  pending(): number;
}

/** The safety phase: a fault at a random moment every 1 to `faultEveryMs` virtual ms. Returns the fault count. */
export function runFaultPhase(
  cluster: SimulatedCluster,
  random: Xoshiro128,
  ids: readonly NodeId[],
  protocolFaults: ProtocolFaults,
  run: { readonly safetyMs: number; readonly faultEveryMs: number; readonly trace?: (line: string) => void },
): number {
  let faults = 0;
  const end = cluster.now + run.safetyMs;
  while (cluster.now < end) {
    cluster.runFor(1 + random.int(run.faultEveryMs));
    faults++;
    const what = injectFault(cluster, random, ids, protocolFaults);
    run.trace?.(`${cluster.now} ms: ${what}`);
  }
  return faults;
}

/** Every link restored, the network made reliable and every crashed node restarted. */
export function healAll(
  cluster: SimulatedCluster,
  ids: readonly NodeId[],
  trace?: (line: string) => void,
): void {
  cluster.links.heal();
  cluster.network = reliableNetwork;
  for (const id of ids) if (!cluster.isUp(id)) cluster.restart(id);
  trace?.(`${cluster.now} ms: healed; liveness phase`);
}

/**
 * Clients stopped and given until `deadline` (+ one client timeout) to finish, what is left recorded as unknown,
 * and the history checked. Throws when it is not linearizable.
 */
export function checkClientHistory(
  cluster: SimulatedCluster,
  clients: SimulatedClients,
  deadline: number,
  trace?: (line: string) => void,
): boolean {
  clients.stop();
  cluster.runUntil(() => clients.pending() === 0, Math.max(0, deadline - cluster.now) + 700);
  clients.drain();
  trace?.(`${cluster.now} ms: checking ${clients.history.length} operations for linearizability`);
  const check = checkKv(clients.history, { timeoutMs: 10_000 });
  if (!check.linearizable)
    throw new Error(`linearizability: history of ${clients.history.length} operations (${check.verdict})`);
  return true;
}

/** A failed run's one-line reason (an invariant by name, else the error's stack). */
export function describeFailure(e: unknown): string {
  if (e instanceof InvariantViolation) return `invariant ${e.message}`;
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

/**
 * The client workload both simulators run: 40 % get, 30 % put, 30 % cas (a third of them expecting an
 * absent key), values unique per client.
 */
export function randomKvCommand(
  random: Xoshiro128,
  keys: readonly string[],
  value: string,
  clients: number,
  seq: number,
): KvCommand {
  const key = keys[random.int(keys.length)]!;
  const roll = random.next();
  if (roll < 0.4) return { op: 'get', key };
  if (roll < 0.7) return { op: 'put', key, value };
  const expect = random.chance(0.3) ? null : `c${random.int(clients)}-${random.int(seq)}`;
  return { op: 'cas', key, expect, value };
}

/** A completed operation as the history records it. */
export function completedOperation(
  client: number,
  cmd: KvCommand,
  call: number,
  returned: number,
  result: KvResult,
): KvOperation {
  const base = { client, key: cmd.key, call, return: returned };
  switch (cmd.op) {
    case 'get':
      return { ...base, op: 'get', ok: true, result: result.value };
    case 'put':
      return { ...base, op: 'put', value: cmd.value, ok: true };
    case 'cas':
      return { ...base, op: 'cas', value: cmd.value, expect: cmd.expect, ok: result.ok };
    case 'delete':
      return { ...base, op: 'delete', ok: true };
  }
}

/**
 * An operation whose outcome the client cannot know (`return: null`), or undefined for a read: a read of
 * unknown outcome tells nothing and is left out.
 */
export function unknownOperation(client: number, cmd: KvCommand, call: number): KvOperation | undefined {
  const base = { client, key: cmd.key, call, return: null, ok: true };
  switch (cmd.op) {
    case 'get':
      return undefined;
    case 'put':
      return { ...base, op: 'put', value: cmd.value };
    case 'cas':
      return { ...base, op: 'cas', value: cmd.value, expect: cmd.expect };
    case 'delete':
      return { ...base, op: 'delete' };
  }
}
