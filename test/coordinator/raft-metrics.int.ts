/**
 * The Raft metrics at the storage edges, read from a real 3-node coordinator: a write is a proposal applied by
 * the leader and at least one WAL fsync on it; the histograms and the snapshot series are exposed.
 */
import { ProcessGroup } from '@concord/infra';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { startBackend, type BackendCluster } from './backends.js';

const group = new ProcessGroup();
let cluster: BackendCluster | undefined;

beforeEach(({ onTestFailed }) => group.printLogsOnFailure(onTestFailed));
afterAll(async () => {
  await cluster?.stop();
  await group.stopAll();
});

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? Number.NaN : Number(line.slice(series.length + 1));
}

describe('raft metrics', () => {
  it('count proposals and time fsyncs on the leader', async () => {
    cluster = await startBackend('concord', group);
    const client = cluster.client({ failFast: true });
    for (let i = 0; i < 5; i += 1) await client.put(`metrics/${i}`, String(i));
    const leader = await cluster.leader();
    const url = cluster.endpoints[cluster.members.indexOf(leader)]!;
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(sample(text, 'raft_proposals_total{outcome="applied"}')).toBeGreaterThanOrEqual(5);
    expect(sample(text, 'raft_wal_fsync_duration_seconds_count')).toBeGreaterThan(0);
    expect(sample(text, 'raft_wal_fsync_duration_seconds_sum')).toBeGreaterThan(0);
    expect(text).toContain('# TYPE raft_snapshot_save_duration_seconds histogram');
  });
});
