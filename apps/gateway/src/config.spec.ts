import { generateKeyPairSync } from 'node:crypto';
import { ConfigError, loadConfig } from '@concord/platform';
import { describe, expect, it } from 'vitest';
import { gatewayConfigSchema } from './config.js';

const INTERNAL_KEY = generateKeyPairSync('ed25519')
  .privateKey.export({ type: 'pkcs8', format: 'pem' })
  .toString();
const base = {
  ADMIN_TOKEN: 'admin-token-0123456789',
  INTERNAL_TOKEN_PRIVATE_KEY: INTERNAL_KEY,
  JWT_SECRET: 'x'.repeat(32),
  STATIC_UPSTREAMS: 'orders=o1@http://127.0.0.1:8101',
};

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(gatewayConfigSchema, env);
    return [];
  } catch (error) {
    return (error as ConfigError).issues.map((i) => `${i.variable}: ${i.problem}`);
  }
}

describe('gateway configuration', () => {
  it('parses STATIC_UPSTREAMS and ROUTES', () => {
    const config = loadConfig(gatewayConfigSchema, {
      ...base,
      ROUTES: '[{"prefix":"/shop","service":"orders","public":true}]',
    });
    expect(config.STATIC_UPSTREAMS.orders?.[0]?.url).toBe('http://127.0.0.1:8101');
    expect(config.ROUTES?.[0]?.service).toBe('orders');
    expect(config.HASH_ALGORITHM).toBe('ring');
    expect(config.BOUNDED_LOAD_FACTOR).toBe(1.25);
  });

  it('names the bad variable', () => {
    expect(problems({ ...base, STATIC_UPSTREAMS: 'orders=o1' })[0]).toMatch(/^STATIC_UPSTREAMS: .*id@url/);
    expect(problems({ ...base, ROUTES: '[{}]' })[0]).toMatch(/^ROUTES: route 0/);
    expect(problems({ ...base, HASH_ALGORITHM: 'md5' })[0]).toMatch(/^HASH_ALGORITHM: /);
    expect(problems({ ...base, BOUNDED_LOAD_FACTOR: '0.5' })[0]).toMatch(/^BOUNDED_LOAD_FACTOR: /);
  });

  it('requires a token key for authenticated routes, a coordinator token, and somewhere to find instances', () => {
    const { JWT_SECRET: _secret, ...noJwt } = base;
    expect(problems(noJwt)).toEqual([expect.stringMatching(/^JWT_SECRET: /)]);
    expect(problems({ ...noJwt, ROUTES: '[{"prefix":"/a","service":"orders","public":true}]' })).toEqual([]);
    expect(problems({ ...base, JWT_SECRET: 'short'.repeat(2) })).toEqual([
      expect.stringMatching(/^JWT_SECRET: /),
    ]);
    expect(problems({ ...base, COORDINATOR_URLS: 'http://127.0.0.1:7001' })).toEqual([
      expect.stringMatching(/^COORDINATOR_TOKEN: /),
    ]);
    const { INTERNAL_TOKEN_PRIVATE_KEY: _key, ...noKey } = base;
    expect(problems(noKey)).toEqual([expect.stringMatching(/^INTERNAL_TOKEN_PRIVATE_KEY: is required/)]);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    expect(problems({ ...base, INTERNAL_TOKEN_PRIVATE_KEY: rsa })).toEqual([
      expect.stringMatching(/^INTERNAL_TOKEN_PRIVATE_KEY: must be an Ed25519/),
    ]);
    expect(problems({ ...base, ROUTES: '[{"prefix":"/sagas","service":"orchestrator"}]' })[0]).toMatch(
      /^ROUTES: .*internal and never routed/,
    );
    const { STATIC_UPSTREAMS: _static, ...nothing } = base;
    expect(problems(nothing)).toEqual([expect.stringMatching(/^STATIC_UPSTREAMS: /)]);
  });
});
