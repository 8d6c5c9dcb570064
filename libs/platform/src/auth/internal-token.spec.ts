import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../time/clock.js';
import { generateInternalTokenKeyPair } from './internal-token-keys.js';
import {
  InternalTokenVerifier,
  InvalidCredentialError,
  mintInternalToken,
  parseInternalTokenPrivateKey,
  parseInternalTokenPublicKey,
} from './internal-token.js';

const keys = generateInternalTokenKeyPair();
const privateKey = parseInternalTokenPrivateKey(keys.privateKeyPem);

function verifier(clock: ManualClock, audience = 'orders') {
  return new InternalTokenVerifier({
    publicKey: parseInternalTokenPublicKey(keys.publicKeyPem),
    audience,
    nowMs: () => clock.nowMs(),
    cacheEntriesMax: 2,
  });
}

describe('InternalTokenVerifier', () => {
  it('accepts a token of the gateway for this service, with subject and scopes', async () => {
    const clock = new ManualClock();
    const token = await mintInternalToken(privateKey, {
      subject: 'alice',
      audience: 'orders',
      scopes: ['customer'],
      nowMs: clock.nowMs(),
    });
    const principal = await verifier(clock).verify(token);
    expect(principal.subject).toBe('alice');
    expect([...principal.scopes]).toEqual(['customer']);
  });

  it('refuses another audience, another key, a long lifetime and garbage', async () => {
    const clock = new ManualClock();
    const v = verifier(clock);
    const now = clock.nowMs();
    const other = parseInternalTokenPrivateKey(generateInternalTokenKeyPair().privateKeyPem);
    const cases = [
      await mintInternalToken(privateKey, {
        subject: 'a',
        audience: 'payments',
        scopes: ['admin'],
        nowMs: now,
      }),
      await mintInternalToken(other, { subject: 'a', audience: 'orders', scopes: ['admin'], nowMs: now }),
      await mintInternalToken(privateKey, {
        subject: 'a',
        audience: 'orders',
        scopes: ['admin'],
        nowMs: now,
        ttlSeconds: 3_600,
      }),
      await new SignJWT({ scope: 'admin' })
        .setProtectedHeader({ alg: 'EdDSA' })
        .setIssuer('someone-else')
        .setSubject('a')
        .setAudience('orders')
        .setIssuedAt(Math.floor(now / 1000))
        .setExpirationTime(Math.floor(now / 1000) + 60)
        .sign(privateKey),
      'a.b.c',
      '',
    ];
    for (const token of cases) await expect(v.verify(token)).rejects.toBeInstanceOf(InvalidCredentialError);
    expect(v.cachedCount).toBe(0);
  });

  it('caches successes by token and still checks expiry on every hit', async () => {
    const clock = new ManualClock();
    const v = verifier(clock);
    const token = await mintInternalToken(privateKey, {
      subject: 'alice',
      audience: 'orders',
      scopes: ['customer'],
      nowMs: clock.nowMs(),
      ttlSeconds: 60,
    });
    await v.verify(token);
    expect(v.cachedCount).toBe(1);
    clock.advance(30_000);
    await expect(v.verify(token)).resolves.toMatchObject({ subject: 'alice' });
    clock.advance(40_000);
    await expect(v.verify(token)).rejects.toThrow(/expired/);
  });
});
