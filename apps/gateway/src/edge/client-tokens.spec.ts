import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkShape, ClientTokenVerifier } from './client-tokens.js';
import { signJwt } from './jwt.js';

const SECRET = 'an-hs256-secret-of-at-least-32-chars!';
const NOW_MS = 1_800_000_000_000;
const NOW_S = NOW_MS / 1000;
const exp = NOW_S + 60;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const RSA_PRIVATE = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const base = { maxLifetimeS: 3_600, clockSkewS: 1 };
const hs = (claims: Record<string, unknown>): string => signJwt(claims, { hs256Secret: SECRET });

async function sign(
  claims: Record<string, unknown>,
  alg: string,
  key: KeyObject | Uint8Array,
  kid?: string,
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'JWT', ...(kid === undefined ? {} : { kid }) })
    .sign(key);
}

describe('ClientTokenVerifier (HS256)', () => {
  const verifier = new ClientTokenVerifier({ ...base, hs256Secret: SECRET });

  it('accepts a valid token, reads subject and scopes, and maps admin to the internal scope', async () => {
    const result = await verifier.verify(
      hs({ sub: 'alice', iat: NOW_S, exp, scope: 'orders admin' }),
      NOW_MS,
    );
    expect(result.ok && result.token.subject).toBe('alice');
    expect(result.ok && [...result.token.scopes]).toEqual(['orders', 'admin']);
    expect(result.ok && result.token.internalScope).toBe('admin');
    const plain = await verifier.verify(hs({ sub: 'bob', exp }), NOW_MS);
    expect(plain.ok && plain.token.internalScope).toBe('customer');
  });

  it.each([
    ['a missing exp', () => hs({ sub: 'alice' }), 'token has no exp'],
    ['an expired token', () => hs({ sub: 'alice', exp: NOW_S - 5 }), 'token expired'],
    [
      'a lifetime above the maximum',
      () => hs({ sub: 'alice', iat: NOW_S, exp: NOW_S + 3_601 }),
      'token lifetime exceeds 3600 s',
    ],
    [
      'a far exp without iat',
      () => hs({ sub: 'alice', exp: NOW_S + 10 * 3_600 }),
      'token lifetime exceeds 3600 s',
    ],
    ['a null exp ("never")', () => hs({ sub: 'alice', exp: null }), expect.stringMatching(/exp|malformed/)],
    ['a future nbf', () => hs({ sub: 'a', exp, nbf: NOW_S + 5 }), 'token not yet valid'],
    ['no subject', () => hs({ exp }), 'token has no subject'],
    [
      'a tampered payload',
      () => {
        const [h, , s] = hs({ sub: 'alice', exp }).split('.');
        return `${h}.${Buffer.from(JSON.stringify({ sub: 'root', exp })).toString('base64url')}.${s}`;
      },
      'bad signature',
    ],
    ['another secret', () => signJwt({ sub: 'a', exp }, { hs256Secret: 'x'.repeat(40) }), 'bad signature'],
    [
      'alg none',
      () =>
        `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'a', exp })).toString('base64url')}.`,
      expect.stringMatching(/base64url|algorithm/),
    ],
    [
      'alg none with a signature part',
      () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'a', exp })).toString('base64url')}.AAAA`,
      'algorithm not accepted',
    ],
    [
      'RS256 when only HS256 is configured',
      () => signJwt({ sub: 'a', exp }, { rs256PrivateKeyPem: RSA_PRIVATE }),
      'algorithm not accepted',
    ],
    ['padding in base64url', () => `${hs({ sub: 'a', exp })}=`, 'token is not strict base64url'],
    [
      'standard base64 characters',
      () => {
        const [h, p, s] = hs({ sub: 'a', exp }).split('.');
        return `${h}.${p}.${s!.replaceAll('-', '+').replaceAll('_', '/')}+`;
      },
      'token is not strict base64url',
    ],
    ['garbage', () => 'not-a-token', 'malformed token'],
    ['an oversized token', () => 'a'.repeat(9_000), 'token too long'],
  ])('refuses %s', async (_name, make, reason) => {
    expect(await verifier.verify(make(), NOW_MS)).toEqual({ ok: false, reason });
  });

  it('checks issuer and audience when configured', async () => {
    const strict = new ClientTokenVerifier({
      ...base,
      hs256Secret: SECRET,
      issuer: 'concord',
      audience: 'api',
    });
    expect((await strict.verify(hs({ sub: 'a', exp, iss: 'concord', aud: ['x', 'api'] }), NOW_MS)).ok).toBe(
      true,
    );
    expect(await strict.verify(hs({ sub: 'a', exp, iss: 'other', aud: 'api' }), NOW_MS)).toEqual({
      ok: false,
      reason: 'wrong issuer',
    });
    expect(await strict.verify(hs({ sub: 'a', exp, iss: 'concord', aud: 'web' }), NOW_MS)).toEqual({
      ok: false,
      reason: 'wrong audience',
    });
    expect(await strict.verify(hs({ sub: 'a', exp, aud: 'api' }), NOW_MS)).toEqual({
      ok: false,
      reason: 'wrong issuer',
    });
  });

  it('caches a verified token, and still checks its expiry on every hit', async () => {
    const token = hs({ sub: 'alice', exp });
    expect(verifier.cached(token, NOW_MS)).toBeUndefined();
    await verifier.verify(token, NOW_MS);
    expect(verifier.cached(token, NOW_MS)?.subject).toBe('alice');
    expect(verifier.cached(token, (exp + 2) * 1000)).toBeUndefined();
    // A failure is never cached.
    const bad = hs({ sub: 'alice' });
    await verifier.verify(bad, NOW_MS);
    expect(verifier.cached(bad, NOW_MS)).toBeUndefined();
  });
});

describe('strict base64url', () => {
  it('accepts canonical parts only', () => {
    expect(checkShape('eyJhIjoxfQ.eyJhIjoxfQ.AAAA')).toBeUndefined();
    // "eyJhIjoxfR" decodes to the same bytes as "eyJhIjoxfQ" but has stray low bits: not canonical.
    expect(checkShape('eyJhIjoxfR.eyJhIjoxfQ.AAAA')).toBe('token is not strict base64url');
    expect(checkShape('eyJhIjoxfQ==.eyJhIjoxfQ.AAAA')).toBe('token is not strict base64url');
    expect(checkShape('eyJhIjoxfQ..AAAA')).toBe('token is not strict base64url');
  });
});

describe('ClientTokenVerifier (public keys)', () => {
  it.each([
    ['RS256', 'rsa', {}],
    ['ES256', 'ec', { namedCurve: 'P-256' }],
    ['EdDSA', 'ed25519', {}],
  ] as const)(
    'verifies %s with a configured public key, and refuses HS256 signed with it',
    async (alg, type, options) => {
      const pair =
        type === 'rsa'
          ? generateKeyPairSync('rsa', { modulusLength: 2048 })
          : type === 'ec'
            ? generateKeyPairSync('ec', options as { namedCurve: string })
            : generateKeyPairSync('ed25519');
      const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const verifier = new ClientTokenVerifier({ ...base, publicKeyPem: pem });
      const token = await sign({ sub: 'bob', exp }, alg, pair.privateKey);
      const result = await verifier.verify(token, NOW_MS);
      expect(result.ok && result.token.subject).toBe('bob');
      // Algorithm confusion: the public key's PEM used as an HMAC secret.
      const forged = signJwt({ sub: 'root', exp }, { hs256Secret: pem });
      expect(await verifier.verify(forged, NOW_MS)).toEqual({ ok: false, reason: 'algorithm not accepted' });
    },
  );

  it('refuses an EC key on another curve at construction', () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-384' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    expect(() => new ClientTokenVerifier({ ...base, publicKeyPem: pem })).toThrow(/P-256/);
  });
});

describe('ClientTokenVerifier (JWKS with kid rotation)', () => {
  const first = generateKeyPairSync('ed25519');
  const second = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let keys: object[] = [];
  let fetches = 0;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('picks the key by kid, and refetches the set when a new kid appears', async () => {
    keys = [{ ...(await exportJWK(first.publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' }];
    const verifier = new ClientTokenVerifier({ ...base, jwksUrl: url, jwksCooldownMs: 0 });
    const now = Date.now();
    const nowS = Math.floor(now / 1000);
    const one = await sign({ sub: 'alice', exp: nowS + 60 }, 'EdDSA', first.privateKey, 'k1');
    expect((await verifier.verify(one, now)).ok).toBe(true);
    expect(fetches).toBe(1);

    // Rotation: the issuer publishes k2 and starts signing with it.
    keys = [...keys, { ...(await exportJWK(second.publicKey)), kid: 'k2', alg: 'ES256', use: 'sig' }];
    const two = await sign({ sub: 'bob', exp: nowS + 60 }, 'ES256', second.privateKey, 'k2');
    const rotated = await verifier.verify(two, now);
    expect(rotated.ok && rotated.token.subject).toBe('bob');
    expect(fetches).toBe(2);

    // A kid nobody published, and a k1 token signed by another key: refused.
    const stranger = generateKeyPairSync('ed25519');
    const unknown = await sign({ sub: 'eve', exp: nowS + 60 }, 'EdDSA', stranger.privateKey, 'k9');
    expect(await verifier.verify(unknown, now)).toEqual({ ok: false, reason: 'no key for this token (kid)' });
    const forged = await sign({ sub: 'eve', exp: nowS + 60 }, 'EdDSA', stranger.privateKey, 'k1');
    expect(await verifier.verify(forged, now)).toEqual({ ok: false, reason: 'bad signature' });
  });
});
