import { describe, expect, it } from 'vitest';
import { cpuProfileArgs, loadStackConfig, parseStackArgs } from './config.js';

describe('npm run stack flags', () => {
  it('selects the coordination backend with --coordination', () => {
    expect(parseStackArgs(['--coordination', 'etcd'])).toEqual({ STACK_COORDINATION: 'etcd' });
    expect(parseStackArgs(['--coordination=concord'])).toEqual({ STACK_COORDINATION: 'concord' });
    expect(parseStackArgs([])).toEqual({});
    expect(loadStackConfig({}).STACK_COORDINATION).toBe('concord');
  });

  it('profiles every app with --cpu-prof DIR, and nothing without it', () => {
    expect(parseStackArgs(['--cpu-prof', '/tmp/p'])).toEqual({ STACK_CPU_PROF: '/tmp/p' });
    expect(parseStackArgs(['--cpu-prof=prof', '--coordination', 'etcd'])).toEqual({
      STACK_CPU_PROF: 'prof',
      STACK_COORDINATION: 'etcd',
    });
    expect(() => parseStackArgs(['--cpu-prof'])).toThrow(/needs a directory/);
    expect(loadStackConfig({}).STACK_CPU_PROF).toBeUndefined();
    expect(cpuProfileArgs(undefined, 'orders-1')).toEqual([]);
    expect(cpuProfileArgs('/tmp/p', 'orders-1', 1234)).toEqual([
      '--cpu-prof',
      '--cpu-prof-dir=/tmp/p',
      '--cpu-prof-name=orders-1.1234.cpuprofile',
    ]);
  });

  it('refuses an unknown flag, a missing value and an unknown backend', () => {
    expect(() => parseStackArgs(['--coordination'])).toThrow(/needs a value/);
    expect(() => parseStackArgs(['--nats-cluster'])).toThrow(/unknown argument --nats-cluster/);
    expect(() => loadStackConfig({ STACK_COORDINATION: 'zookeeper' })).toThrow(
      /STACK_COORDINATION: must be concord or etcd/,
    );
  });
});
