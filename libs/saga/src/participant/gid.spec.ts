import { describe, expect, it } from 'vitest';
import { gidLiteral, makeGid, parseGid } from './gid.js';

describe('2PC gids', () => {
  it('are <service>:<transactionId> and parse back', () => {
    const gid = makeGid('rooms', '3f2a6c1e-0b7d-4a51-9a55-0c1f4e9b2d10');
    expect(gid).toBe('rooms:3f2a6c1e-0b7d-4a51-9a55-0c1f4e9b2d10');
    expect(parseGid(gid)).toEqual({
      service: 'rooms',
      transactionId: '3f2a6c1e-0b7d-4a51-9a55-0c1f4e9b2d10',
    });
  });

  it('refuse anything that could escape the SQL literal they are spliced into', () => {
    for (const bad of ["rooms:x'; COMMIT PREPARED 'y", 'rooms:', ':abc', 'Rooms:abc', 'rooms:a b']) {
      expect(() => gidLiteral(bad)).toThrow(/invalid 2PC gid/);
    }
    expect(gidLiteral('cars:abc_1-2')).toBe("'cars:abc_1-2'");
  });
});
