import { setTimeout as delay } from 'node:timers/promises';
import type { Clock, TimerHandle } from '@concord/resilience';
import type { CoordinationClient } from '@concord/coordination-client';
import { describe, expect, it } from 'vitest';
import { CoordinatorDiscovery } from './discovery.js';
import { MembershipBatcher } from './membership.js';

const noTimers: Clock = {
  nowMs: () => 0,
  setTimer: (): TimerHandle => ({ cancel: () => undefined }),
};

/** A registry whose linearizable reads succeed or fail (no majority) as the test says; watches stay silent. */
function fakeCoordinator() {
  const state = { reachable: true, reads: 0 };
  const client = {
    range: async () => {
      state.reads++;
      if (!state.reachable) throw new Error('503 no leader available');
      return {
        revision: 7,
        items: [{ key: 'services/orders/o1', value: '{"url":"http://127.0.0.1:1/"}', revision: 3 }],
        more: false,
      };
    },
    watch: () => ({ stop: () => undefined }),
    close: () => undefined,
  } as unknown as CoordinationClient;
  return { client, state };
}

describe('CoordinatorDiscovery freshness', () => {
  it('reports how stale the membership is while the coordinator cannot confirm it, and recovers', async () => {
    const { client, state } = fakeCoordinator();
    let wallMs = Date.UTC(2026, 0, 1);
    const members: string[] = [];
    const discovery = new CoordinatorDiscovery(
      client,
      new MembershipBatcher(noTimers, 0, (service) => members.push(service)),
      'config/gateway/routes',
      new Set(),
      { onRoutes: () => undefined, onWarning: () => undefined },
      { now: () => wallMs, retryDelayMs: 5, confirmIntervalMs: 5 },
    );
    expect(discovery.freshness()).toMatchObject({ synced: false, lastConfirmedAt: null, stalenessMs: null });

    await discovery.start(1_000);
    expect(discovery.freshness()).toMatchObject({
      source: 'coordinator',
      synced: true,
      lastConfirmedAt: '2026-01-01T00:00:00.000Z',
      stalenessMs: 0,
      lastError: null,
    });
    expect(members).toContain('orders');

    // No majority: confirmations fail, the membership stays, the staleness grows with the clock.
    state.reachable = false;
    const readsBefore = state.reads;
    wallMs += 12_000;
    await delay(40);
    expect(state.reads).toBeGreaterThan(readsBefore);
    expect(discovery.freshness()).toMatchObject({
      synced: true,
      lastConfirmedAt: '2026-01-01T00:00:00.000Z',
      stalenessMs: 12_000,
      lastError: '503 no leader available',
    });

    // Healed: the next confirmation makes the view fresh again.
    state.reachable = true;
    await delay(40);
    expect(discovery.freshness()).toMatchObject({ stalenessMs: 0, lastError: null });
    discovery.stop();
  });
});
