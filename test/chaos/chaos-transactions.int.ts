/**
 * `npm run chaos:transactions` end to end, small: 20 orders through the gateway while instances are SIGKILLed
 * and nats-server restarts; the script must settle everything and print its summary as the last stdout line.
 * Needs `npm run build` (the script starts dist/ apps).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('npm run chaos:transactions', () => {
  it('places 20 orders under faults and ends settled, with no violation and nothing prepared', async () => {
    const tsx = path.join(ROOT, 'node_modules/.bin/tsx');
    const args = [
      'scripts/chaos-transactions.ts',
      '--orders',
      '20',
      '--clients',
      '4',
      '--fault-every-ms',
      '500',
      '--min-chaos-seconds',
      '8',
      '--seed',
      '20',
    ];
    let stdout = '';
    let stderr = '';
    let code = 0;
    try {
      ({ stdout, stderr } = await promisify(execFile)(tsx, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }));
    } catch (error) {
      const failed = error as { stdout: string; stderr: string; code: number };
      ({ stdout, stderr, code } = failed);
    }
    const last = stdout.trim().split('\n').at(-1) ?? '';
    if (code !== 0) process.stderr.write(stderr);
    expect(code).toBe(0);
    expect(Object.keys(JSON.parse(last) as object)).toEqual([
      'orders',
      'confirmed',
      'cancelled',
      'pending',
      'invariantViolations',
      'preparedLeft',
      'faults',
    ]);
    const result = JSON.parse(last) as Record<string, number>;
    expect(result).toMatchObject({ orders: 20, pending: 0, invariantViolations: 0, preparedLeft: 0 });
    expect((result.confirmed ?? 0) + (result.cancelled ?? 0)).toBe(20);
    expect(result.confirmed).toBeGreaterThan(0);
    expect(result.faults).toBeGreaterThan(0);
  }, 240_000);
});
