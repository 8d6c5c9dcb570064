import { generateKeyPairSync } from 'node:crypto';
import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { INTERNAL_TOKEN_ISSUER, InternalTokenMinter } from './internal-tokens.js';

const pair = generateKeyPairSync('ed25519');
const PRIVATE_PEM = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const NOW_MS = 1_800_000_000_000;

describe('InternalTokenMinter', () => {
  it('signs the contract: EdDSA, iss, sub, aud = service, scope, iat, exp = iat + ttl, kid', async () => {
    const minter = new InternalTokenMinter({ privateKeyPem: PRIVATE_PEM, kid: 'gw-1', ttlS: 60 });
    const header = await minter.authorization('alice', 'orders', 'customer', NOW_MS);
    expect(header.startsWith('Bearer ')).toBe(true);
    const { payload, protectedHeader } = await jwtVerify(header.slice(7), pair.publicKey, {
      issuer: INTERNAL_TOKEN_ISSUER,
      audience: 'orders',
      currentDate: new Date(NOW_MS),
      algorithms: ['EdDSA'],
    });
    expect(protectedHeader).toEqual({ alg: 'EdDSA', typ: 'JWT', kid: 'gw-1' });
    expect(payload).toEqual({
      iss: 'concord-gateway',
      sub: 'alice',
      aud: 'orders',
      scope: 'customer',
      iat: NOW_MS / 1000,
      exp: NOW_MS / 1000 + 60,
    });
  });

  it('reuses a token for three quarters of its lifetime, per subject, audience and scope', async () => {
    const minter = new InternalTokenMinter({ privateKeyPem: PRIVATE_PEM, ttlS: 60 });
    expect(minter.cached('alice', 'orders', 'customer', NOW_MS)).toBeUndefined();
    const first = await minter.authorization('alice', 'orders', 'customer', NOW_MS);
    expect(minter.cached('alice', 'orders', 'customer', NOW_MS + 44_000)).toBe(first);
    expect(minter.cached('alice', 'orders', 'customer', NOW_MS + 45_000)).toBeUndefined();
    expect(minter.cached('alice', 'payments', 'customer', NOW_MS)).toBeUndefined();
    expect(minter.cached('alice', 'orders', 'admin', NOW_MS)).toBeUndefined();
    expect(minter.cached('bob', 'orders', 'customer', NOW_MS)).toBeUndefined();
    const renewed = await minter.authorization('alice', 'orders', 'customer', NOW_MS + 45_000);
    expect(renewed).not.toBe(first);
  });

  it('signs once for concurrent requests of one identity', async () => {
    const minter = new InternalTokenMinter({ privateKeyPem: PRIVATE_PEM, ttlS: 60 });
    const all = await Promise.all(
      Array.from({ length: 5 }, () => minter.authorization('alice', 'orders', 'customer', NOW_MS)),
    );
    expect(new Set(all).size).toBe(1);
  });

  it('refuses a key that is not Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    expect(() => new InternalTokenMinter({ privateKeyPem: rsa, ttlS: 60 })).toThrow(/Ed25519/);
  });
});
