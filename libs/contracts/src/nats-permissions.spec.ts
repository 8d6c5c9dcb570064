import { describe, expect, it } from 'vitest';
import { isLeaderRetry, natsPermissions, ORCHESTRATOR_LEADER_SUBJECTS } from './nats-permissions.js';

describe('NATS permissions', () => {
  it("lets orders send its start to the leader's subject, and nothing else of the orchestrator's", () => {
    const orders = natsPermissions('orders');
    expect(orders.publish).toContain(ORCHESTRATOR_LEADER_SUBJECTS.start);
    expect(orders.publish).toContain('orchestrator.start');
    expect(orders.publish).not.toContain(ORCHESTRATOR_LEADER_SUBJECTS.decision);
    expect(orders.publish).not.toContain('orchestrator.leader.*');
    expect(orders.subscribe).not.toContain('orchestrator.leader.*');
  });

  it('lets only the orchestrator subscribe to the leader subjects', () => {
    expect(natsPermissions('orchestrator').subscribe).toContain('orchestrator.leader.*');
    for (const user of ['inventory', 'payments']) {
      const { publish, subscribe } = natsPermissions(user);
      expect([...publish, ...subscribe].filter((s) => s.startsWith('orchestrator.leader'))).toEqual([]);
    }
  });
});

describe('isLeaderRetry', () => {
  it("tells a leader's 'send it again' from a refusal and from an answer", () => {
    expect(isLeaderRetry({ ok: false, retry: true, reason: 'send it again' })).toBe(true);
    expect(isLeaderRetry({ ok: false, reason: 'unknown workflow' })).toBe(false);
    expect(isLeaderRetry({ ok: true, result: { retry: true } })).toBe(false);
    expect(isLeaderRetry(null)).toBe(false);
    expect(isLeaderRetry('retry')).toBe(false);
  });
});
