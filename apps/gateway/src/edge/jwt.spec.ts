import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JwtVerifier, signJwt } from './jwt.js';

const SECRET = 'an-hs256-secret-of-at-least-32-chars!';
const NOW_MS = 1_800_000_000_000;
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const exp = NOW_MS / 1000 + 60;

describe('JwtVerifier HS256', () => {
  const verifier = new JwtVerifier({ hs256Secret: SECRET, clockSkewMs: 1_000 });

  it('accepts a valid token and reads subject and scopes', () => {
    const result = verifier.verify(
      signJwt({ sub: 'alice', exp, scope: 'orders:write a' }, { hs256Secret: SECRET }),
      NOW_MS,
    );
    expect(result.ok && result.token.subject).toBe('alice');
    expect(result.ok && [...result.token.scopes]).toEqual(['orders:write', 'a']);
  });

  it.each([
    [
      'a tampered payload',
      () => {
        const [h, , s] = signJwt({ sub: 'alice', exp }, { hs256Secret: SECRET }).split('.');
        return `${h}.${Buffer.from(JSON.stringify({ sub: 'root', exp })).toString('base64url')}.${s}`;
      },
      'bad signature',
    ],
    [
      'another secret',
      () => signJwt({ sub: 'alice', exp }, { hs256Secret: 'x'.repeat(40) }),
      'bad signature',
    ],
    [
      'an expired token',
      () => signJwt({ sub: 'alice', exp: NOW_MS / 1000 - 2 }, { hs256Secret: SECRET }),
      'token expired',
    ],
    [
      'a future nbf',
      () => signJwt({ sub: 'a', exp, nbf: NOW_MS / 1000 + 5 }, { hs256Secret: SECRET }),
      'token not yet valid',
    ],
    ['no subject', () => signJwt({ exp }, { hs256Secret: SECRET }), 'token has no subject'],
    [
      'alg none',
      () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"a"}').toString('base64url')}.`,
      'algorithm none not accepted',
    ],
    [
      'RS256 when only HS256 is configured',
      () => signJwt({ sub: 'a', exp }, { rs256PrivateKeyPem: PRIVATE_PEM }),
      'algorithm RS256 not accepted',
    ],
    ['garbage', () => 'not-a-token', 'malformed token'],
    ['a bad header', () => 'e30.e30.AA', 'malformed token header'],
  ])('refuses %s', (_name, make, reason) => {
    expect(verifier.verify(make(), NOW_MS)).toEqual({ ok: false, reason });
  });

  it('checks issuer and audience when configured', () => {
    const strict = new JwtVerifier({ hs256Secret: SECRET, issuer: 'concord', audience: 'api' });
    const good = signJwt({ sub: 'a', exp, iss: 'concord', aud: ['x', 'api'] }, { hs256Secret: SECRET });
    expect(strict.verify(good, NOW_MS).ok).toBe(true);
    const wrong = signJwt({ sub: 'a', exp, iss: 'other', aud: 'api' }, { hs256Secret: SECRET });
    expect(strict.verify(wrong, NOW_MS)).toEqual({ ok: false, reason: 'wrong issuer' });
  });
});

describe('JwtVerifier RS256', () => {
  const verifier = new JwtVerifier({ rs256PublicKeyPem: PUBLIC_PEM });

  it('accepts a token signed by the private key', () => {
    const result = verifier.verify(signJwt({ sub: 'bob', exp }, { rs256PrivateKeyPem: PRIVATE_PEM }), NOW_MS);
    expect(result.ok && result.token.subject).toBe('bob');
  });

  it('refuses HS256 signed with the public key as secret (algorithm confusion)', () => {
    const forged = signJwt({ sub: 'root', exp }, { hs256Secret: PUBLIC_PEM });
    expect(verifier.verify(forged, NOW_MS)).toEqual({ ok: false, reason: 'algorithm HS256 not accepted' });
  });
});
