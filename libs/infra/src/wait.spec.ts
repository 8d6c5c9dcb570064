import { describe, expect, it } from 'vitest';

import { tailLines } from './process.js';
import { waitFor, WaitTimeoutError } from './wait.js';

describe('waitFor', () => {
  it('returns the first truthy value, treating throws as "not yet"', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls += 1;
        if (calls < 3) throw new Error(`attempt ${calls}`);
        return { calls };
      },
      { timeoutMs: 2_000, intervalMs: 1 },
    );
    expect(value).toEqual({ calls: 3 });
  });

  it('times out naming the condition and carrying the last error', async () => {
    const failure = await waitFor(
      () => {
        throw new Error('still down');
      },
      { timeoutMs: 30, intervalMs: 5, description: 'the moon' },
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(WaitTimeoutError);
    expect((failure as Error).message).toContain('the moon');
    expect(((failure as Error).cause as Error).message).toBe('still down');
  });
});

describe('tailLines', () => {
  it('keeps the last lines, ignoring the final newline', () => {
    expect(tailLines('a\nb\nc\n', 2)).toBe('b\nc');
    expect(tailLines('a', 5)).toBe('a');
  });
});
