/**
 * A watch on the etcd backend that resumes from a compacted revision: etcd cancels it, and the adapter re-lists the
 * prefix (onReset with the current state) and follows from there, as the Concord client does on a 410. Concord's
 * side of the same behaviour is covered by its own compaction tests; etcd only compacts when told to, so this test
 * compacts through etcd's API.
 */
import { EtcdCoordination, type KeyValue, type WatchEvent } from '@concord/coordination-client';
import { type EtcdHandle, startEtcd, waitFor } from '@concord/infra';
import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, it } from 'vitest';

let etcd: EtcdHandle | undefined;
afterAll(() => etcd?.stop());

describe('etcd backend: watches past a compaction', () => {
  it('re-lists through onReset and then follows live changes', async () => {
    etcd = await startEtcd({ members: 1 });
    const client = new EtcdCoordination({ endpoints: etcd.endpoints });
    const raw = new Etcd3({ hosts: [...etcd.endpoints] });
    const first = await client.put('c/a', '1');
    await client.put('c/b', '1');
    await client.delete('c/a');
    const last = await client.put('c/c', '1');
    await raw.kv.compact({ revision: last.revision, physical: true });

    const resets: { items: KeyValue[]; revision: number }[] = [];
    const events: WatchEvent[] = [];
    const warnings: string[] = [];
    const watch = new EtcdCoordination({
      endpoints: etcd.endpoints,
      onWarning: (m) => warnings.push(m),
    }).watch(
      { prefix: 'c/' },
      {
        fromRevision: first.revision,
        onEvent: (e) => events.push(e),
        onReset: (items, revision) => resets.push({ items, revision }),
      },
    );
    await waitFor(() => resets.length === 1, {
      timeoutMs: 10_000,
      description: 'onReset after the compaction',
    });
    expect(resets[0]?.items.map((kv) => kv.key)).toEqual(['c/b', 'c/c']);
    expect(resets[0]?.revision).toBe(last.revision);
    expect(warnings.join()).toMatch(/compaction/);
    const live = await client.put('c/d', '1');
    await waitFor(() => events.length === 1, {
      timeoutMs: 10_000,
      description: 'a live event after the reset',
    });
    expect(events[0]).toMatchObject({ type: 'put', revision: live.revision, kv: { key: 'c/d' } });
    expect(watch.lastRevision).toBe(live.revision);
    watch.stop();
    client.close();
    raw.close();
  });
});
