import {
  createHmac,
  createPublicKey,
  createSign,
  createVerify,
  type KeyObject,
  timingSafeEqual,
} from 'node:crypto';

/**
 * JWT bearer verification (RFC 7519) for HS256 and RS256 with node:crypto only. The algorithm comes from the
 * configured key, never from the token: a token's `alg` must match a configured key (so an RS256 public key
 * can never be used as an HS256 secret, the classic algorithm-confusion attack), and `none` is refused.
 */

export interface JwtVerifierOptions {
  readonly hs256Secret?: string | undefined;
  readonly rs256PublicKeyPem?: string | undefined;
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
  readonly clockSkewMs?: number;
}

export interface VerifiedToken {
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  readonly claims: Readonly<Record<string, unknown>>;
}

export type JwtResult =
  { readonly ok: true; readonly token: VerifiedToken } | { readonly ok: false; readonly reason: string };

const MAX_TOKEN_CHARS = 8_192;

export class JwtVerifier {
  private readonly hmacKey: Buffer | undefined;
  private readonly rsaKey: KeyObject | undefined;

  constructor(private readonly options: JwtVerifierOptions) {
    this.hmacKey = options.hs256Secret === undefined ? undefined : Buffer.from(options.hs256Secret);
    this.rsaKey =
      options.rs256PublicKeyPem === undefined ? undefined : createPublicKey(options.rs256PublicKeyPem);
    if (this.rsaKey !== undefined && this.rsaKey.asymmetricKeyType !== 'rsa') {
      throw new Error('JWT_PUBLIC_KEY must be an RSA public key');
    }
  }

  get configured(): boolean {
    return this.hmacKey !== undefined || this.rsaKey !== undefined;
  }

  /** Verifies `token` (the part after "Bearer ") at time `nowMs` (epoch milliseconds). */
  verify(token: string, nowMs: number): JwtResult {
    if (token.length > MAX_TOKEN_CHARS) return fail('token too long');
    const parts = token.split('.');
    if (parts.length !== 3) return fail('malformed token');
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = decodeJson(headerPart);
    if (!header || typeof header.alg !== 'string') return fail('malformed token header');
    const signed = `${headerPart}.${payloadPart}`;
    const signature = Buffer.from(signaturePart, 'base64url');
    if (header.alg === 'HS256' && this.hmacKey !== undefined) {
      const expected = createHmac('sha256', this.hmacKey).update(signed).digest();
      if (expected.length !== signature.length || !timingSafeEqual(expected, signature)) {
        return fail('bad signature');
      }
    } else if (header.alg === 'RS256' && this.rsaKey !== undefined) {
      const verifier = createVerify('RSA-SHA256');
      verifier.update(signed);
      if (!verifier.verify(this.rsaKey, signature)) return fail('bad signature');
    } else {
      return fail(`algorithm ${header.alg} not accepted`);
    }
    const claims = decodeJson(payloadPart);
    if (!claims) return fail('malformed token payload');
    const skewMs = this.options.clockSkewMs ?? 30_000;
    if (typeof claims.exp === 'number' && nowMs - skewMs >= claims.exp * 1000) return fail('token expired');
    if (typeof claims.nbf === 'number' && nowMs + skewMs < claims.nbf * 1000)
      return fail('token not yet valid');
    if (this.options.issuer !== undefined && claims.iss !== this.options.issuer) return fail('wrong issuer');
    if (this.options.audience !== undefined) {
      const aud = claims.aud;
      const audiences = Array.isArray(aud) ? aud : [aud];
      if (!audiences.includes(this.options.audience)) return fail('wrong audience');
    }
    if (typeof claims.sub !== 'string' || claims.sub === '' || claims.sub.length > 256) {
      return fail('token has no subject');
    }
    const scopeClaim = typeof claims.scope === 'string' ? claims.scope : '';
    return {
      ok: true,
      token: { subject: claims.sub, scopes: new Set(scopeClaim.split(' ').filter(Boolean)), claims },
    };
  }
}

function fail(reason: string): JwtResult {
  return { ok: false, reason };
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Mints a token (for tests, the benchmark and the stack's documented way to get one). */
export function signJwt(
  claims: Record<string, unknown>,
  key: { hs256Secret: string } | { rs256PrivateKeyPem: string },
): string {
  const alg = 'hs256Secret' in key ? 'HS256' : 'RS256';
  const head = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signed = `${head}.${body}`;
  const signature =
    'hs256Secret' in key
      ? createHmac('sha256', key.hs256Secret).update(signed).digest()
      : createSign('RSA-SHA256').update(signed).sign(key.rs256PrivateKeyPem);
  return `${signed}.${signature.toString('base64url')}`;
}
