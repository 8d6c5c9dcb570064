import { describe, expect, it } from 'vitest';
import { paxosRunQuery } from '../paxos/paxos-run.query.js';
import { singletonHolders } from './singletons.js';

describe('singleton holders from the coordinator locks', () => {
  it('names the oldest key of each lock as its holder, with its fencing token and the queue behind it', () => {
    const seen = new Map<string, number>();
    const holders = singletonHolders(
      [
        { key: 'locks/orders-resend-sweeper/l9', createRevision: 40, lease: 'l9' },
        { key: 'locks/inventory-reservation-expiry/l2', createRevision: 12, lease: 'l2' },
        { key: 'locks/inventory-reservation-expiry/l7', createRevision: 15, lease: 'l7' },
        { key: 'elsewhere/x', createRevision: 1 },
      ],
      seen,
      1_000,
    );
    expect(holders).toEqual([
      {
        job: 'inventory-reservation-expiry',
        service: 'inventory',
        lease: 'l2',
        holder: null,
        fencingToken: 12,
        waiting: 1,
        sinceMs: 1_000,
      },
      {
        job: 'orders-resend-sweeper',
        service: 'orders',
        lease: 'l9',
        holder: null,
        fencingToken: 40,
        waiting: 0,
        sinceMs: 1_000,
      },
    ]);
  });

  it('keeps "since" across polls and starts it again for the next holder', () => {
    const seen = new Map<string, number>();
    singletonHolders([{ key: 'locks/a-job/l1', createRevision: 5, lease: 'l1' }], seen, 1_000);
    expect(singletonHolders([{ key: 'locks/a-job/l1', createRevision: 5 }], seen, 2_000)[0]?.sinceMs).toBe(
      1_000,
    );
    const next = singletonHolders([{ key: 'locks/a-job/l3', createRevision: 9, value: 'a-2' }], seen, 3_000);
    expect(next[0]).toMatchObject({ fencingToken: 9, sinceMs: 3_000, holder: 'a-2', lease: 'l3' });
    expect([...seen.keys()]).toEqual(['a-job@9']);
  });
});

describe('the Paxos run query', () => {
  it('has defaults and refuses what is out of range or unknown', () => {
    expect(paxosRunQuery.parse({})).toEqual({ seed: 1, acceptors: 3, proposers: 1, drop: 0 });
    expect(paxosRunQuery.parse({ seed: '7', proposers: '3', drop: '20' })).toMatchObject({
      seed: 7,
      proposers: 3,
    });
    for (const bad of [
      { seed: '-1' },
      { acceptors: '9' },
      { proposers: '0' },
      { drop: '51' },
      { seed: 'x' },
      { other: '1' },
    ])
      expect(paxosRunQuery.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });
});
