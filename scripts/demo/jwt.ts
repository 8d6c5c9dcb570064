import { createHmac } from 'node:crypto';

const base64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/**
 * An HS256 JWT for the gateway of the local stack (`.data/gateway-jwt-secret`). Written here with node:crypto
 * rather than imported from apps/gateway so that the demos depend only on the wire format.
 */
export function signHs256(claims: Record<string, unknown>, secret: string): string {
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify(claims));
  const signature = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

/** A token for `subject`, valid for `ttlSeconds` from `nowMs`. */
export function demoToken(subject: string, secret: string, nowMs: number, ttlSeconds = 3600): string {
  const nowSeconds = Math.floor(nowMs / 1000);
  return signHs256({ sub: subject, iat: nowSeconds, exp: nowSeconds + ttlSeconds }, secret);
}
