import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Xoshiro128 } from '../core/prng.js';
import { encodeKvCommand, KvStateMachine, type KvResult } from '../kv/kv-state-machine.js';
import { MemoryNetwork } from '../memory/memory-transport.js';
import { FileSnapshotStorage } from '../storage/snapshot-file.js';
import { DiskWal } from '../storage/wal.js';
import { RaftDriver } from './raft-driver.js';

/** The driver against the real disk ports (WAL with fsync, snapshot files): same contract, real I/O. */
describe('RaftDriver on disk storage', () => {
  const dirs: string[] = [];

  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('replicates, snapshots, and restarts every node from disk with its state', async () => {
    const base = await mkdtemp(join(tmpdir(), 'concord-raft-'));
    dirs.push(base);
    const net = new MemoryNetwork();
    const ids = ['a', 'b', 'c'];
    const make = async (id: string): Promise<{ driver: RaftDriver<KvResult>; sm: KvStateMachine }> => {
      const sm = new KvStateMachine();
      const driver = new RaftDriver<KvResult>({
        raft: {
          id,
          electionTimeoutTicks: 10,
          heartbeatIntervalTicks: 2,
          maxInflightAppends: 16,
          maxEntriesPerAppend: 64,
          maxBytesPerAppend: 1 << 20,
          snapshotChunkBytes: 256,
          preVote: true,
          checkQuorum: true,
        },
        tickIntervalMs: 10,
        transport: net.transport(id),
        log: await DiskWal.open({ dir: join(base, id, 'wal'), segmentBytesMax: 1024 * 1024 }),
        snapshots: new FileSnapshotStorage({ dir: join(base, id, 'snapshots') }),
        stateMachine: sm,
        bootstrap: ids,
        snapshotEveryEntries: 25,
        random: new Xoshiro128(id.charCodeAt(0)),
      });
      await driver.start();
      return { driver, sm };
    };
    const until = async (cond: () => boolean): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!cond()) {
        if (Date.now() > deadline) throw new Error('condition not reached in time');
        await new Promise((r) => setTimeout(r, 10));
      }
    };

    let nodes = await Promise.all(ids.map(make));
    await until(() => nodes.some((n) => n.driver.status().role === 'leader'));
    let leader = nodes.find((n) => n.driver.status().role === 'leader')!;
    for (let i = 0; i < 60; i++)
      await leader.driver.propose(encodeKvCommand({ op: 'put', key: 'k', value: `${i}` }));
    await until(() => nodes.every((n) => n.sm.get('k') === '59'));
    expect(nodes.every((n) => n.driver.status().snapshotIndex > 0)).toBe(true);
    await Promise.all(nodes.map((n) => n.driver.stop()));

    nodes = await Promise.all(ids.map(make));
    // Each restarted from its snapshot plus the log after it.
    for (const n of nodes) expect(n.sm.get('k')).not.toBeNull();
    await until(() => nodes.some((n) => n.driver.status().role === 'leader'));
    leader = nodes.find((n) => n.driver.status().role === 'leader')!;
    await leader.driver.propose(encodeKvCommand({ op: 'put', key: 'k', value: 'after' }));
    await until(() => nodes.every((n) => n.sm.get('k') === 'after'));
    await Promise.all(nodes.map((n) => n.driver.stop()));
  });
});
