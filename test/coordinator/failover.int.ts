/**
 * Three real members of each coordination backend (Concord's coordinator, etcd), used through the same port. SIGKILL the leader during writes: a new leader serves within three election
 * timeouts. Restart every node: no acknowledged write is lost. A watch sees every change once, in order, across
 * the leader change and its own reconnect.
 */
import type { WatchEvent } from '@concord/coordination-client';
import { ProcessGroup, waitFor } from '@concord/infra';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendCluster, startBackend } from './backends.js';

const group = new ProcessGroup();
let cluster: BackendCluster | undefined;

beforeEach(({ onTestFailed }) => group.printLogsOnFailure(onTestFailed));
afterAll(async () => {
  await cluster?.stop();
  await group.stopAll();
});

describe.each(BACKENDS)('coordination cluster under failure (%s)', (backend) => {
  it('elects a new leader within 3 election timeouts of a SIGKILL and loses no acknowledged write', async () => {
    await cluster?.stop();
    cluster = await startBackend(backend, group);
    const client = cluster.client({ failFast: true });
    const watcherLeader = await cluster.leader();
    // The watch connects to the leader first, so that killing it forces a reconnect as well as an election.
    const leaderIndex = cluster.members.indexOf(watcherLeader);
    const watchClient = cluster.client({
      urls: [...cluster.endpoints.slice(leaderIndex), ...cluster.endpoints.slice(0, leaderIndex)],
    });
    const first = await client.put('w/0', '0');
    const seen: WatchEvent[] = [];
    const watch = watchClient.watch(
      { prefix: 'w/' },
      { fromRevision: first.revision, onEvent: (e) => seen.push(e) },
    );

    const acknowledged = new Map<string, number>([['w/0', first.revision]]);
    let stop = false;
    let killedAt = 0;
    let firstAckAfterKill = 0;
    const writer = (async () => {
      for (let i = 1; !stop; i++) {
        const key = `w/${i}`;
        try {
          const { revision } = await client.put(key, String(i));
          acknowledged.set(key, revision);
          if (killedAt > 0 && firstAckAfterKill === 0) firstAckAfterKill = performance.now();
        } catch {
          // Unknown outcome: not acknowledged, so not counted; the checks below only ask about acknowledged writes.
        }
      }
    })();

    await waitFor(() => acknowledged.size >= 20, { timeoutMs: 20_000 });
    const leader = await cluster.leader();
    killedAt = performance.now();
    leader.proc.sigkill();
    await waitFor(() => firstAckAfterKill > 0, {
      timeoutMs: 30_000,
      description: 'a write acknowledged after the kill',
    });
    const recoveryMs = firstAckAfterKill - killedAt;
    expect(recoveryMs).toBeLessThan(3 * cluster.electionTimeoutMaxMs);
    // An answer already in flight at the kill can arrive first; ask for the new leader once the old one is gone
    // (cluster.leader() skips exited processes, and survivors may name the old leader until they time out).
    await leader.proc.waitForExit(10_000);
    const newLeader = await cluster.leader();
    expect(newLeader.id).not.toBe(leader.id);
    await waitFor(() => acknowledged.size >= 60, { timeoutMs: 30_000 });
    stop = true;
    await writer;

    // Every acknowledged write reached the watch exactly once, in revision order.
    const seenAt = () => new Set(seen.map((e) => `${e.kv.key}@${e.revision}`));
    await waitFor(() => [...acknowledged].every(([key, revision]) => seenAt().has(`${key}@${revision}`)), {
      timeoutMs: 20_000,
      description: 'the watch delivered every acknowledged write',
    });
    watch.stop();
    const revisions = seen.map((e) => e.revision);
    expect(revisions).toEqual([...revisions].sort((a, b) => a - b));
    expect(new Set(revisions).size).toBe(revisions.length);
    for (const [key, revision] of acknowledged) {
      expect(seen.filter((e) => e.kv.key === key && e.revision === revision)).toHaveLength(1);
    }

    // Restart every node from its data directory: nothing acknowledged is lost.
    await leader.proc.restart();
    for (const n of cluster.members) n.proc.sigkill();
    await Promise.all(cluster.members.map((n) => n.proc.restart()));
    await cluster.leader();
    const { items } = await client.range('w/', { limit: 10_000 });
    const stored = new Map(items.map((kv) => [kv.key, kv.modRevision]));
    for (const [key, revision] of acknowledged) expect(stored.get(key)).toBe(revision);
    client.close();
    watchClient.close();
  });
});
