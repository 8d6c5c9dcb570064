import { describe, expect, it } from 'vitest';
import { pruneOnce } from './inbox-pruning.js';

describe('pruneOnce', () => {
  it('deletes in batches until a batch comes back short', async () => {
    let left = { inbox: 2_500, fence: 900 };
    const calls: number[] = [];
    const pass = await pruneOnce(
      async (_age, max) => {
        calls.push(max);
        const removed = { inbox: Math.min(max, left.inbox), fence: Math.min(max, left.fence) };
        left = { inbox: left.inbox - removed.inbox, fence: left.fence - removed.fence };
        return removed;
      },
      1_000,
      1_000,
    );
    expect(pass).toEqual({ inbox: 2_500, fence: 900, batches: 3 });
    expect(calls).toEqual([1_000, 1_000, 1_000]);
  });

  it('stops at the batch cap of a pass, leaving the rest to the next one', async () => {
    const pass = await pruneOnce(async (_age, max) => ({ inbox: max, fence: 0 }), 1_000, 10, 4);
    expect(pass).toEqual({ inbox: 40, fence: 0, batches: 4 });
  });
});
