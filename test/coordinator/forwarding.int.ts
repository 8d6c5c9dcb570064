/**
 * Writes sent to followers travel to the leader over the Raft peer link (a `propose` message), not as a second
 * HTTP request, and the follower answers its client once it applied the entry. Three real processes; the leader
 * is SIGKILLed while follower-originated puts are in flight: no acknowledged write is lost, none is applied
 * twice, and a write refused with `X-Concord-Outcome: notApplied` is applied nowhere.
 */
import { ProcessGroup, waitFor } from '@concord/infra';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT_TOKEN, type CoordinatorCluster, startCoordinatorCluster } from './cluster.js';

const group = new ProcessGroup();
let cluster: CoordinatorCluster | undefined;
const headers = { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' };

beforeEach(({ onTestFailed }) => group.printLogsOnFailure(onTestFailed));
afterAll(() => group.stopAll());

type Outcome = { kind: 'ok'; revision: number } | { kind: 'notApplied' } | { kind: 'unknown' };

async function put(url: string, key: string, value: string): Promise<Outcome> {
  try {
    const response = await fetch(`${url}/v1/kv/${key}`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ value }),
      signal: AbortSignal.timeout(5_000),
    });
    const body = (await response.json()) as { revision?: number };
    if (response.status === 200 && typeof body.revision === 'number')
      return { kind: 'ok', revision: body.revision };
    if (response.status === 503 && response.headers.get('x-concord-outcome') === 'notApplied')
      return { kind: 'notApplied' };
    return { kind: 'unknown' };
  } catch {
    return { kind: 'unknown' };
  }
}

describe('writes forwarded from followers over the peer link', () => {
  it('are answered by the follower once applied, with the same result as at the leader', async () => {
    cluster = await startCoordinatorCluster(group);
    const leader = await cluster.leader();
    const follower = cluster.nodes.find((n) => n.id !== leader.id)!;
    const first = await put(follower.url, 'fw/one', 'a');
    expect(first.kind).toBe('ok');
    const second = await put(follower.url, 'fw/one', 'a');
    expect(second.kind).toBe('ok');
    const response = await fetch(`${follower.url}/v1/kv/fw/one`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ value: 'b', prevRevision: (first as { revision: number }).revision }),
    });
    // A failed compare-and-set is the leader's answer too: 409 with the key's current modRevision.
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ modRevision: (second as { revision: number }).revision });
    // Served by the follower itself (an HTTP hop to the leader would be marked x-concord-served-by).
    expect(response.headers.get('x-concord-served-by')).toBeNull();
    const txn = await fetch(`${follower.url}/v1/txn`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        compare: [{ key: 'fw/one', target: 'value', op: '=', value: 'a' }],
        success: [{ put: { key: 'fw/two', value: 'c' } }],
        failure: [],
      }),
    });
    expect(txn.status).toBe(200);
    expect(await txn.json()).toMatchObject({ succeeded: true });
    const read = await fetch(`${leader.url}/v1/kv/fw/two`, { headers });
    expect(await read.json()).toMatchObject({ value: 'c', version: 1 });
  });

  it('loses no acknowledged write and applies none twice when the leader is SIGKILLed mid-flight', async () => {
    cluster ??= await startCoordinatorCluster(group);
    const leader = await cluster.leader();
    const followers = cluster.nodes.filter((n) => n.id !== leader.id && n.proc.exit === undefined);
    const outcomes = new Map<string, Outcome>();
    let stop = false;
    let acksAfterKill = 0;
    let killed = false;
    const writers = Array.from({ length: 16 }, async (_, w) => {
      const target = followers[w % followers.length]!;
      for (let i = 0; !stop; i++) {
        const key = `kill/${w}/${i}`;
        const outcome = await put(target.url, key, String(i));
        outcomes.set(key, outcome);
        if (killed && outcome.kind === 'ok') acksAfterKill++;
      }
    });
    await waitFor(() => [...outcomes.values()].filter((o) => o.kind === 'ok').length >= 200, {
      timeoutMs: 30_000,
      description: '200 follower writes acknowledged',
    });
    leader.proc.sigkill();
    killed = true;
    await waitFor(() => acksAfterKill >= 200, {
      timeoutMs: 30_000,
      description: '200 follower writes acknowledged after the kill',
    });
    stop = true;
    await Promise.all(writers);

    const survivor = followers[0]!;
    const listed = await fetch(`${survivor.url}/v1/kv?prefix=kill/&limit=10000`, { headers });
    expect(listed.status).toBe(200);
    const { items } = (await listed.json()) as {
      items: { key: string; value: string; modRevision: number; version: number }[];
    };
    const stored = new Map(items.map((kv) => [kv.key, kv]));
    let acknowledged = 0;
    let refused = 0;
    for (const [key, outcome] of outcomes) {
      const kv = stored.get(key);
      if (outcome.kind === 'ok') {
        acknowledged++;
        // Present, at the revision the client was told, written once (a second apply would be version 2).
        expect(kv, key).toMatchObject({ modRevision: outcome.revision, version: 1 });
      } else if (outcome.kind === 'notApplied') {
        refused++;
        expect(kv, key).toBeUndefined();
      } else if (kv !== undefined) expect(kv.version, key).toBe(1);
    }
    expect(acknowledged).toBeGreaterThanOrEqual(400);
    expect(refused + acknowledged).toBeLessThanOrEqual(outcomes.size);
  });
});
