import { createHmac, createSign } from 'node:crypto';

/**
 * Mints a client token synchronously, for tests and benchmarks that need one inline (HS256 or RS256).
 * The gateway verifies with jose ({@link ClientTokenVerifier}); `npm run token` mints with jose too.
 */
export function signJwt(
  claims: Record<string, unknown>,
  key: { hs256Secret: string } | { rs256PrivateKeyPem: string },
  header: Record<string, unknown> = {},
): string {
  const alg = 'hs256Secret' in key ? 'HS256' : 'RS256';
  const head = Buffer.from(JSON.stringify({ alg, typ: 'JWT', ...header })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signed = `${head}.${body}`;
  const signature =
    'hs256Secret' in key
      ? createHmac('sha256', key.hs256Secret).update(signed).digest()
      : createSign('RSA-SHA256').update(signed).sign(key.rs256PrivateKeyPem);
  return `${signed}.${signature.toString('base64url')}`;
}
