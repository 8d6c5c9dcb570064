import { describe, expect, it } from 'vitest';
import { handoffTarget } from './leadership-handoff.js';

describe('handoffTarget', () => {
  it('picks the most caught-up other voter', () => {
    expect(
      handoffTarget({
        id: 'n1',
        role: 'leader',
        members: [
          { id: 'n1', voter: true, matchIndex: 90 },
          { id: 'n2', voter: true, matchIndex: 70 },
          { id: 'n3', voter: true, matchIndex: 88 },
          { id: 'n4', voter: false, matchIndex: 95 },
        ],
      }),
    ).toBe('n3');
  });

  it('answers null for a follower, or a leader alone', () => {
    expect(
      handoffTarget({ id: 'n1', role: 'follower', members: [{ id: 'n2', voter: true, matchIndex: 1 }] }),
    ).toBeNull();
    expect(handoffTarget({ id: 'n1', role: 'leader', members: [{ id: 'n1', voter: true }] })).toBeNull();
  });
});
