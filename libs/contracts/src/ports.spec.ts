import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS } from '@concord/contracts';

describe('DEFAULT_PORTS', () => {
  it('gives each coordinator an API port and a distinct peer port', () => {
    expect(DEFAULT_PORTS.coordinatorApi).toHaveLength(3);
    const all = new Set([...DEFAULT_PORTS.coordinatorApi, ...DEFAULT_PORTS.coordinatorPeer]);
    expect(all.size).toBe(6);
  });
});
