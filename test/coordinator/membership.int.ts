/**
 * Membership changes on real processes: a node started empty with JOIN=true is added as a learner, catches up,
 * is promoted to voter; then a member is removed (the leader itself: it steps down) and the cluster keeps
 * its quorum through a further SIGKILL.
 */
import { CoordinationClient } from '@concord/coordination-client';
import { ProcessGroup, waitFor } from '@concord/infra';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, CLIENT_TOKEN, startCoordinatorCluster } from './cluster.js';

const group = new ProcessGroup();
beforeEach(({ onTestFailed }) => group.printLogsOnFailure(onTestFailed));
afterAll(() => group.stopAll());

interface ClusterView {
  leader: string | null;
  members: { id: string; role: string; matchIndex: number | null; apiUrl?: string | null }[];
}

const auth = { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' };
const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

async function view(url: string): Promise<ClusterView> {
  return (await (await fetch(`${url}/v1/cluster`, { headers: auth })).json()) as ClusterView;
}

describe('coordinator membership', () => {
  it('adds a learner, lets it catch up, promotes it, and removes the leader', async () => {
    const cluster = await startCoordinatorCluster(group, 3);
    const client = new CoordinationClient({
      urls: cluster.urls,
      token: CLIENT_TOKEN,
      attempts: 20,
      requestTimeoutMs: 2_000,
    });
    for (let i = 0; i < 50; i++) await client.put(`m/${i}`, String(i), { prevRevision: 0 });

    const n4 = await cluster.join('n4');
    const member = JSON.stringify({ id: 'n4', peerAddress: `127.0.0.1:${n4.peerPort}`, apiUrl: n4.url });
    // The general client token may not change the cluster.
    const refused = await fetch(`${cluster.urls[0]}/v1/cluster/members`, {
      method: 'POST',
      headers: auth,
      body: member,
    });
    expect(refused.status).toBe(403);
    const added = await fetch(`${cluster.urls[0]}/v1/cluster/members`, {
      method: 'POST',
      headers: admin,
      body: member,
    });
    expect(added.status).toBe(202);
    // Re-adding an existing id (here: n1, with another address) would redirect its traffic: refused.
    const hijack = await fetch(`${cluster.urls[0]}/v1/cluster/members`, {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ id: 'n1', peerAddress: '127.0.0.1:9', apiUrl: 'http://127.0.0.1:9' }),
    });
    expect(hijack.status).toBe(409);
    expect((await view(cluster.urls[0]!)).members.find((m) => m.id === 'n1')?.apiUrl).not.toBe(
      'http://127.0.0.1:9',
    );
    await waitFor(
      async () => {
        const kv = await fetch(`${n4.url}/v1/kv/m/49?consistency=serializable`, { headers: auth }).catch(
          () => undefined,
        );
        return kv?.status === 200;
      },
      { timeoutMs: 30_000, description: 'the learner caught up' },
    );
    const leaderView = await view((await cluster.leader()).url);
    expect(leaderView.members.find((m) => m.id === 'n4')).toMatchObject({ role: 'learner' });

    const promoted = await fetch(`${cluster.urls[1]}/v1/cluster/members/n4/promote`, {
      method: 'POST',
      headers: admin,
    });
    expect(promoted.status).toBe(200);
    await waitFor(async () => (await view(n4.url)).members.find((m) => m.id === 'n4')?.role !== 'learner', {
      timeoutMs: 10_000,
    });

    // Remove the leader itself: it steps down and the others elect a new one.
    const leader = await cluster.leader();
    const other = cluster.nodes.find((n) => n.id !== leader.id && n.proc.exit === undefined)!;
    const removed = await fetch(`${other.url}/v1/cluster/members/${leader.id}`, {
      method: 'DELETE',
      headers: admin,
    });
    expect(removed.status).toBe(200);
    // Removing it again, once it is gone, is refused as a conflict with the configuration (nothing proposed).
    await waitFor(async () => !(await view(other.url)).members.some((m) => m.id === leader.id), {
      timeoutMs: 20_000,
      description: 'the removal applied',
    });
    const again = await waitFor(
      async () => {
        const r = await fetch(`${other.url}/v1/cluster/members/${leader.id}`, {
          method: 'DELETE',
          headers: admin,
        });
        return r.status === 503 ? undefined : r; // no leader yet: ask again
      },
      { timeoutMs: 20_000, description: 'an answer from a leader' },
    );
    expect(again.status).toBe(409);
    expect(((await again.json()) as { detail?: string }).detail).toMatch(/not a member/);
    await waitFor(
      async () => {
        const v = await view(other.url);
        return v.leader !== null && v.leader !== leader.id && !v.members.some((m) => m.id === leader.id);
      },
      { timeoutMs: 20_000, description: 'a new leader without the removed member' },
    );
    leader.proc.sigkill();

    // Three voters remain (two originals and n4); one more SIGKILL leaves a quorum of two.
    const survivors = cluster.nodes.filter((n) => n.id !== leader.id);
    survivors[0]?.proc.sigkill();
    const rest = survivors.slice(1).map((n) => n.url);
    const after = new CoordinationClient({
      urls: rest,
      token: CLIENT_TOKEN,
      attempts: 30,
      requestTimeoutMs: 2_000,
    });
    // A create-if-absent write is safe to retry: if an attempt whose answer was lost did apply, the retry gets 409.
    await after.put('m/after', 'yes', { prevRevision: 0 }).catch((error: unknown) => {
      if ((error as { status?: number }).status !== 409) throw error;
    });
    expect((await after.get('m/after'))?.value).toBe('yes');
    expect((await after.get('m/0'))?.value).toBe('0');
    client.close();
    after.close();
  });
});
