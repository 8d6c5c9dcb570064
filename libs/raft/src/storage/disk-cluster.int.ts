import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Xoshiro128 } from '../core/prng.js';
import { RaftDriver } from '../driver/raft-driver.js';
import { encodeKvCommand, KvStateMachine, type KvResult } from '../kv/kv-state-machine.js';
import type { NodeId } from '../types.js';
import { TcpTransport } from '../transport/tcp-transport.js';
import { FileSnapshotStorage } from './snapshot-file.js';
import { DiskWal } from './wal.js';

/**
 * The real stack end to end: three RaftDrivers in this process, each on its own disk WAL, snapshot files and
 * TCP transport. A follower is stopped, the others commit without it, and it restarts from its directory.
 */
const IDS = ['a', 'b', 'c'] as const;
const SECRET = 'disk cluster test secret, 32 bytes';

async function until(predicate: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

interface DiskNode {
  driver: RaftDriver<KvResult>;
  sm: KvStateMachine;
  wal: DiskWal;
  snapshots: FileSnapshotStorage;
}

let root: string;
const ports = new Map<NodeId, number>();
const nodes = new Map<NodeId, DiskNode>();

async function startNode(id: NodeId, port: number, peers: Map<NodeId, string>): Promise<DiskNode> {
  const transport = await TcpTransport.start({
    nodeId: id,
    listen: { host: '127.0.0.1', port },
    clusterSecret: SECRET,
    reconnectDelayMsMin: 10,
    reconnectDelayMsMax: 200,
  });
  ports.set(id, Number(transport.address.split(':')[1]));
  const wal = await DiskWal.open({ dir: join(root, id, 'wal'), segmentBytesMax: 4 * 1024 });
  const sm = new KvStateMachine();
  const snapshots = new FileSnapshotStorage({ dir: join(root, id, 'snapshots') });
  const driver = new RaftDriver<KvResult>({
    raft: {
      id,
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 2,
      maxInflightAppends: 8,
      maxEntriesPerAppend: 64,
      maxBytesPerAppend: 1 << 20,
      snapshotChunkBytes: 4096,
      preVote: true,
      checkQuorum: true,
    },
    tickIntervalMs: 10,
    transport,
    log: wal,
    snapshots,
    stateMachine: sm,
    bootstrap: IDS,
    peers,
    snapshotEveryEntries: 50,
    requestTimeoutMs: 5000,
    random: new Xoshiro128(id.charCodeAt(0)),
  });
  const node = { driver, sm, wal, snapshots };
  nodes.set(id, node);
  return node;
}

const leader = (): DiskNode | undefined =>
  [...nodes.values()].find((n) => {
    try {
      return n.driver.status().role === 'leader';
    } catch {
      return false;
    }
  });

async function put(key: string, value: string): Promise<void> {
  for (;;) {
    const current = leader();
    if (current !== undefined) {
      try {
        await current.driver.propose(encodeKvCommand({ op: 'put', key, value }));
        return;
      } catch {
        // Not the leader any more, or lost to a new one: Raft clients retry.
      }
    }
    await delay(20);
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'concord-disk-cluster-'));
  // Listen first on port 0 to learn the addresses, then start the drivers with the full peer map.
  const transports = await Promise.all(
    IDS.map((id) =>
      TcpTransport.start({ nodeId: id, listen: { host: '127.0.0.1', port: 0 }, clusterSecret: SECRET }),
    ),
  );
  const chosen = transports.map((t) => Number(t.address.split(':')[1]));
  await Promise.all(transports.map((t) => t.close()));
  const peers = new Map<NodeId, string>(IDS.map((id, i) => [id, `127.0.0.1:${chosen[i]}`]));
  for (const [i, id] of IDS.entries()) await startNode(id, chosen[i]!, peers);
  await Promise.all([...nodes.values()].map((n) => n.driver.start()));
});

afterAll(async () => {
  for (const node of nodes.values()) await node.driver.stop();
  await rm(root, { recursive: true, force: true });
});

describe('a 3-node cluster on disk WALs and TCP', () => {
  it('commits, survives a follower restart, and the follower catches up from its own disk', async () => {
    await until(() => leader() !== undefined, 'a leader');
    for (let i = 0; i < 120; i++) await put(`k${i % 10}`, `v${i}`);
    const follower = [...nodes.entries()].find(([, n]) => n !== leader());
    expect(follower).toBeDefined();
    const [followerId, followerNode] = follower!;
    await until(() => followerNode.sm.get('k9') === 'v119', 'the follower to apply everything');

    const appliedBeforeStop = followerNode.driver.status().appliedIndex;
    await followerNode.driver.stop();
    nodes.delete(followerId);
    for (let i = 120; i < 200; i++) await put(`k${i % 10}`, `v${i}`);

    const peers = new Map<NodeId, string>(IDS.map((id) => [id, `127.0.0.1:${ports.get(id)}`]));
    const restarted = await startNode(followerId, ports.get(followerId)!, peers);
    // Recovery from disk: the snapshot and the WAL hold at least everything the node had applied.
    const snapshotIndex = (await restarted.snapshots.load())?.meta.index ?? 0;
    const lastLogged = (await restarted.wal.load()).at(-1)?.index ?? 0;
    expect(snapshotIndex).toBeGreaterThan(0);
    expect(Math.max(snapshotIndex, lastLogged)).toBeGreaterThanOrEqual(appliedBeforeStop);
    expect(restarted.wal.recovery.truncatedBytes).toBe(0);
    await restarted.driver.start();
    await until(() => restarted.sm.get('k9') === 'v199', 'the restarted follower to catch up');
    expect(restarted.driver.status().appliedIndex).toBe(leader()!.driver.status().appliedIndex);
    // Snapshots every 50 entries let the WALs drop old segments: disk use stays bounded.
    for (const node of nodes.values()) expect(node.wal.stats().segments).toBeLessThanOrEqual(3);
  });
});
