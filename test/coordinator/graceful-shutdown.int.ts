/**
 * SIGTERM on the leader (a rolling update, a node drain): it hands leadership to the most caught-up follower
 * before it stops, so the cluster has a leader again without waiting for an election timeout, and no write is lost.
 */
import { CoordinationClient } from '@concord/coordination-client';
import { ProcessGroup, waitFor } from '@concord/infra';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT_TOKEN, startCoordinatorCluster } from './cluster.js';

const group = new ProcessGroup();
beforeEach(({ onTestFailed }) => group.printLogsOnFailure(onTestFailed));
afterAll(() => group.stopAll());

describe('coordinator graceful shutdown', () => {
  it('hands leadership to a follower on SIGTERM', async () => {
    const cluster = await startCoordinatorCluster(group, 3, { LOG_LEVEL: 'info' });
    const client = new CoordinationClient({ urls: cluster.urls, token: CLIENT_TOKEN });
    const written = await client.put('handoff/before', 'x');
    const leader = await cluster.leader();
    leader.proc.kill('SIGTERM');
    await leader.proc.waitForExit(20_000);
    const handed = /leadership handed to (\S+) in (\d+) ms/.exec(leader.proc.logs());
    expect(handed, leader.proc.logTail()).not.toBeNull();
    const successor = await cluster.leader();
    expect(successor.id).toBe(handed?.[1]);
    expect(successor.id).not.toBe(leader.id);
    const survivors = new CoordinationClient({
      urls: cluster.nodes.filter((n) => n !== leader).map((n) => n.url),
      token: CLIENT_TOKEN,
    });
    expect((await survivors.get('handoff/before'))?.modRevision).toBe(written.revision);
    await waitFor(async () => (await survivors.put('handoff/after', 'y')).revision > written.revision, {
      timeoutMs: 10_000,
    });
    client.close();
    survivors.close();
  });
});
