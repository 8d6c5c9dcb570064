import { ConfigError } from '@concord/platform';
import { describe, expect, it } from 'vitest';
import { CoordinationClient } from './coordination-client.js';
import { createCoordination } from './create-coordination.js';
import { EtcdCoordination, prefixEnd } from './etcd-coordination.js';

describe('createCoordination', () => {
  it('answers the Concord client by default and the etcd adapter with backend etcd', () => {
    const concord = createCoordination({ urls: ['http://127.0.0.1:7001'], token: 't' });
    expect(concord).toBeInstanceOf(CoordinationClient);
    expect(concord?.backend).toBe('concord');
    concord?.close();
    const etcd = createCoordination({ backend: 'etcd', etcdEndpoints: ['http://127.0.0.1:2379'] });
    expect(etcd).toBeInstanceOf(EtcdCoordination);
    expect(etcd?.backend).toBe('etcd');
    etcd?.close();
  });

  it('answers null without a coordinator, and refuses etcd without endpoints', () => {
    expect(createCoordination({ urls: [], token: 't' })).toBeNull();
    expect(createCoordination({ urls: ['http://127.0.0.1:7001'], token: undefined })).toBeNull();
    expect(() => createCoordination({ backend: 'etcd', etcdEndpoints: [] })).toThrow(ConfigError);
  });
});

describe('prefixEnd', () => {
  it('is the first key after every key with the prefix, as etcd ranges expect', () => {
    expect(prefixEnd('services/').toString()).toBe('services0');
    expect(prefixEnd('config/x').toString()).toBe('config/y');
    expect(prefixEnd('')).toEqual(Buffer.from([0]));
  });
});
