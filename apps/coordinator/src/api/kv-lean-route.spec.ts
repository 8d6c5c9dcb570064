import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPutBody } from './kv-lean-route.js';
import { putBody } from './schemas.js';

describe('the lean put route checks bodies by hand exactly as the putBody schema does', () => {
  it('accepts what the schema accepts', () => {
    for (const body of [
      { value: '' },
      { value: 'v', lease: '0123456789abcdef' },
      { value: 'v', prevRevision: 0 },
      { value: 'v', prevRevision: 12, lease: 'ffffffffffffffff' },
    ]) {
      expect(isPutBody(body)).toBe(true);
      expect(putBody.safeParse(body).success).toBe(true);
    }
  });

  it('never accepts what the schema refuses (then the schema answers, with its own error body)', () => {
    const field = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.constant(null),
      fc.boolean(),
      fc.constant('0123456789abcdef'),
      fc.array(fc.string(), { maxLength: 2 }),
    );
    const body = fc.oneof(
      fc.record({ value: field, lease: field, prevRevision: field, extra: field }, { requiredKeys: [] }),
      field,
    );
    fc.assert(
      fc.property(body, (b) => {
        if (isPutBody(b)) expect(putBody.safeParse(b).success).toBe(true);
      }),
      { numRuns: 2_000, seed: 12 },
    );
  });
});
