import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet,
  type JWTHeaderParameters,
  type JWTPayload,
  jwtVerify,
  type FlattenedJWSInput,
} from 'jose';

/**
 * Client bearer tokens (RFC 7519), verified with `jose`: HS256 with a shared secret for development; RS256,
 * ES256 or EdDSA with a public key, or keys from a JWKS URL (kid rotation: an unknown kid refetches the set,
 * at most once per cooldown), for production. The algorithm list comes from the configured keys, never from
 * the token (`none` and algorithm confusion are refused by construction).
 *
 * On top of what jose checks: `exp` is required and the lifetime (exp - iat, or exp - now without iat) is
 * capped; every part must be canonical base64url; the subject must be a non-empty string of at most 256.
 *
 * Verified tokens are cached by the whole token (success only; bounded): a hit costs a Map read and the
 * exp/nbf comparison, which runs on every hit, so a cached token expires on time.
 */
export interface ClientTokenOptions {
  readonly hs256Secret?: string | undefined;
  /** SPKI PEM: RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA). */
  readonly publicKeyPem?: string | undefined;
  readonly jwksUrl?: string | undefined;
  /** Least time between two JWKS fetches triggered by an unknown kid. */
  readonly jwksCooldownMs?: number;
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
  readonly maxLifetimeS: number;
  readonly clockSkewS: number;
  readonly cacheEntries?: number;
}

export interface VerifiedToken {
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  /** The scope of the internal token: "admin" when the client's scopes contain admin, else "customer". */
  readonly internalScope: 'admin' | 'customer';
  /** Validity window in epoch seconds (nbf defaults to 0). */
  readonly notBeforeS: number;
  readonly expiresS: number;
}

export type TokenResult =
  { readonly ok: true; readonly token: VerifiedToken } | { readonly ok: false; readonly reason: string };

const MAX_TOKEN_CHARS = 8_192;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

type KeyResolver = (
  header: JWTHeaderParameters,
  token: FlattenedJWSInput,
) => ReturnType<ReturnType<typeof createRemoteJWKSet>> | KeyObject | Uint8Array;

export class ClientTokenVerifier {
  private readonly cache = new Map<string, VerifiedToken>();
  private readonly cacheEntries: number;
  private readonly algorithms: string[];
  private readonly resolveKey: KeyResolver;

  constructor(private readonly options: ClientTokenOptions) {
    this.cacheEntries = options.cacheEntries ?? 10_000;
    const secret =
      options.hs256Secret === undefined ? undefined : new TextEncoder().encode(options.hs256Secret);
    let publicKey: KeyObject | undefined;
    let publicAlg: string | undefined;
    if (options.publicKeyPem !== undefined) {
      publicKey = createPublicKey(options.publicKeyPem);
      publicAlg = algorithmOf(publicKey);
    }
    const jwks =
      options.jwksUrl === undefined
        ? undefined
        : createRemoteJWKSet(new URL(options.jwksUrl), {
            cooldownDuration: options.jwksCooldownMs ?? 30_000,
            cacheMaxAge: 10 * 60_000,
            timeoutDuration: 5_000,
          });
    this.algorithms = [
      ...(secret ? ['HS256'] : []),
      ...(publicAlg ? [publicAlg] : []),
      ...(jwks ? ['RS256', 'ES256', 'EdDSA'].filter((a) => a !== publicAlg) : []),
    ];
    if (this.algorithms.length === 0) throw new Error('no key configured to verify client tokens');
    this.resolveKey = (header, token) => {
      if (header.alg === 'HS256' && secret) return secret;
      if (publicKey && header.alg === publicAlg && (jwks === undefined || header.kid === undefined)) {
        return publicKey;
      }
      if (jwks && header.alg !== 'HS256') return jwks(header, token);
      if (publicKey) return publicKey;
      throw new Error(`algorithm ${header.alg} not accepted`);
    };
  }

  /** A cached verification still valid at `nowMs`, or undefined (then call {@link verify}). */
  cached(token: string, nowMs: number): VerifiedToken | undefined {
    const hit = this.cache.get(token);
    if (hit === undefined) return undefined;
    const nowS = nowMs / 1000;
    const skew = this.options.clockSkewS;
    if (nowS - skew >= hit.expiresS || nowS + skew < hit.notBeforeS) {
      this.cache.delete(token);
      return undefined;
    }
    return hit;
  }

  /** Verifies `token` (the part after "Bearer ") at `nowMs`; caches a success. */
  async verify(token: string, nowMs: number): Promise<TokenResult> {
    const cached = this.cached(token, nowMs);
    if (cached) return { ok: true, token: cached };
    const malformed = checkShape(token);
    if (malformed !== undefined) return { ok: false, reason: malformed };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.resolveKey, {
        algorithms: this.algorithms,
        ...(this.options.issuer === undefined ? {} : { issuer: this.options.issuer }),
        ...(this.options.audience === undefined ? {} : { audience: this.options.audience }),
        clockTolerance: this.options.clockSkewS,
        currentDate: new Date(nowMs),
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      return { ok: false, reason: reasonOf(error) };
    }
    const nowS = Math.floor(nowMs / 1000);
    const exp = payload.exp!;
    const lifetimeS = exp - (typeof payload.iat === 'number' ? Math.min(payload.iat, nowS) : nowS);
    if (lifetimeS > this.options.maxLifetimeS) {
      return { ok: false, reason: `token lifetime exceeds ${this.options.maxLifetimeS} s` };
    }
    const sub = payload.sub;
    if (typeof sub !== 'string' || sub === '' || sub.length > 256) {
      return { ok: false, reason: 'token has no subject' };
    }
    const scopes = new Set(typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : []);
    const verified: VerifiedToken = {
      subject: sub,
      scopes,
      internalScope: scopes.has('admin') ? 'admin' : 'customer',
      notBeforeS: typeof payload.nbf === 'number' ? payload.nbf : 0,
      expiresS: exp,
    };
    if (this.cache.size >= this.cacheEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(token, verified);
    return { ok: true, token: verified };
  }
}

/** Three parts of canonical base64url (no padding, no +/, no stray bits): else why not. */
export function checkShape(token: string): string | undefined {
  if (token.length > MAX_TOKEN_CHARS) return 'token too long';
  const parts = token.split('.');
  if (parts.length !== 3) return 'malformed token';
  for (const part of parts) {
    if (!BASE64URL.test(part) || Buffer.from(part, 'base64url').toString('base64url') !== part) {
      return 'token is not strict base64url';
    }
  }
  return undefined;
}

function algorithmOf(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'ec':
      if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new Error('JWT_PUBLIC_KEY: only EC keys on P-256 (ES256) are accepted');
      }
      return 'ES256';
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new Error(`JWT_PUBLIC_KEY: unsupported key type ${key.asymmetricKeyType ?? 'secret'}`);
  }
}

function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const claim = (error as { claim?: unknown }).claim;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'token expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      if (claim === 'exp') return 'token has no exp';
      if (claim === 'iss') return 'wrong issuer';
      if (claim === 'aud') return 'wrong audience';
      if (claim === 'nbf') return 'token not yet valid';
      return `invalid claim ${String(claim)}`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return 'algorithm not accepted';
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'bad signature';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'no key for this token (kid)';
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JOSE_GENERIC':
      return 'key set unavailable';
    default:
      return error instanceof Error ? `malformed token (${error.message})` : 'malformed token';
  }
}
