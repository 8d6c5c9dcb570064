import { describe, expect, it } from 'vitest';
import { loadStackConfig, parseStackArgs } from './config.js';

describe('npm run stack flags', () => {
  it('selects the coordination backend with --coordination', () => {
    expect(parseStackArgs(['--coordination', 'etcd'])).toEqual({ STACK_COORDINATION: 'etcd' });
    expect(parseStackArgs(['--coordination=concord'])).toEqual({ STACK_COORDINATION: 'concord' });
    expect(parseStackArgs([])).toEqual({});
    expect(loadStackConfig({}).STACK_COORDINATION).toBe('concord');
  });

  it('refuses an unknown flag, a missing value and an unknown backend', () => {
    expect(() => parseStackArgs(['--coordination'])).toThrow(/needs a value/);
    expect(() => parseStackArgs(['--nats-cluster'])).toThrow(/unknown argument --nats-cluster/);
    expect(() => loadStackConfig({ STACK_COORDINATION: 'zookeeper' })).toThrow(
      /STACK_COORDINATION: must be concord or etcd/,
    );
  });
});
