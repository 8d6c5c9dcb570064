import { describe, expect, it } from 'vitest';
import type { SystemSources } from '../system/sources.js';
import type { PollResult } from '../system/snapshot.js';
import { LiveFeed } from './live-feed.js';

/** Sources that count their polls and answer an empty system at the fake clock's time. */
function countingSources(clock: { nowMs: number }): SystemSources & { polls: number } {
  const sources = {
    polls: 0,
    async poll(): Promise<PollResult> {
      sources.polls += 1;
      return {
        atMs: clock.nowMs,
        coordinators: [],
        rings: { ok: false, error: 'none here' },
        requestCounts: undefined,
        transactions: { ok: true, items: [] },
      };
    },
  };
  return sources as unknown as SystemSources & { polls: number };
}

/** A started feed over counting sources, on a fake clock at 1,000 ms. */
function startedFeed(pollIntervalMs: number) {
  const clock = { nowMs: 1_000 };
  const sources = countingSources(clock);
  const feed = new LiveFeed(
    sources,
    { pollIntervalMs, eventsKept: 10, subscribersMax: 2 },
    () => clock.nowMs,
  );
  feed.start();
  return { clock, sources, feed };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('LiveFeed', () => {
  it('polls only while a page watches, from the first subscriber to the last', async () => {
    const { sources, feed } = startedFeed(60_000);
    await settle();
    expect(sources.polls).toBe(0);
    expect(feed.polling).toBe(false);

    const seen: number[] = [];
    const first = feed.subscribe((m) => seen.push(m.snapshot.atMs));
    const second = feed.subscribe(() => undefined);
    await settle();
    expect(feed.polling).toBe(true);
    expect(sources.polls).toBe(1); // one immediate poll for the first page, none more for the second
    expect(seen).toEqual([1_000]);
    expect(feed.subscribe(() => undefined)).toBeUndefined(); // over subscribersMax

    first?.();
    expect(feed.polling).toBe(true);
    second?.();
    expect(feed.polling).toBe(false);
    await feed.stop();
  });

  it('answers a one-off read from the picture at hand while it is fresh, and polls once when it is not', async () => {
    const { clock, sources, feed } = startedFeed(500);
    const [a, b] = await Promise.all([feed.fresh(), feed.fresh()]);
    expect(sources.polls).toBe(1); // two reads at once share one poll
    expect(a.snapshot?.atMs).toBe(1_000);
    expect(b.snapshot?.atMs).toBe(1_000);
    clock.nowMs += 400;
    expect((await feed.fresh()).snapshot?.atMs).toBe(1_000);
    expect(sources.polls).toBe(1);
    clock.nowMs += 200;
    expect((await feed.fresh()).snapshot?.atMs).toBe(1_600);
    expect(sources.polls).toBe(2);
    expect(feed.polling).toBe(false);
    await feed.stop();
  });
});
