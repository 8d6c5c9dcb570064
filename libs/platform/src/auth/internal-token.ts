import { createPrivateKey, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';

/**
 * The internal token: how an end user's identity travels from the gateway to a service.
 *
 * The gateway verifies the client's JWT, then mints a short-lived token of its own, signed with Ed25519 (JWS
 * "EdDSA"): `iss` "concord-gateway", `sub` the end user, `aud` the one service it is meant for ("orders",
 * "inventory", "payments", "orchestrator"), `scope` space-separated ("customer" or "admin"), `iat` and `exp`
 * (about 60 s later). Services hold only the public key (INTERNAL_TOKEN_PUBLIC_KEY, SPKI PEM): they can check a
 * token but never make one, and a token for one service is refused by every other (the audience).
 */

export const INTERNAL_TOKEN_ISSUER = 'concord-gateway';
/** JWS algorithm names accepted for Ed25519 (RFC 8037 "EdDSA", and the fully-specified "Ed25519" of RFC 9864). */
export const INTERNAL_TOKEN_ALGORITHMS = ['EdDSA', 'Ed25519'];
export const SCOPE_CUSTOMER = 'customer';
export const SCOPE_ADMIN = 'admin';
/** A token living longer than this is refused, whatever its signature: a leaked token must die soon. */
export const INTERNAL_TOKEN_LIFETIME_SECONDS_MAX = 300;
export const INTERNAL_TOKEN_TTL_SECONDS_DEFAULT = 60;

const SUBJECT = /^[A-Za-z0-9._:@-]{1,200}$/;
const SCOPE_WORD = /^[a-z][a-z0-9:_-]{0,63}$/;

/** Who is calling, as proven by a verified credential. */
export interface Principal {
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  /** When the credential stops being valid (Infinity for the operator token). */
  readonly expiresAtMs: number;
  readonly credential: 'internal-token' | 'operator-token';
}

/** Raised for any credential that does not prove an identity; the guard answers 401 with its message. */
export class InvalidCredentialError extends Error {
  override readonly name = 'InvalidCredentialError';
}

/** Parses an SPKI PEM (or the same with literal `\n`, as env files carry it) into an Ed25519 public key. */
export function parseInternalTokenPublicKey(pem: string): KeyObject {
  const key = createPublicKey(pem.includes('\\n') ? pem.replaceAll('\\n', '\n') : pem);
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`must be an Ed25519 public key (got ${String(key.asymmetricKeyType)})`);
  }
  return key;
}

export function parseInternalTokenPrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem.includes('\\n') ? pem.replaceAll('\\n', '\n') : pem);
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`must be an Ed25519 private key (got ${String(key.asymmetricKeyType)})`);
  }
  return key;
}

export interface InternalTokenVerifierOptions {
  readonly publicKey: KeyObject;
  /** This service's name: the only `aud` accepted. */
  readonly audience: string;
  readonly nowMs: () => number;
  /** Verified tokens remembered (by the whole token string), so a repeat pays no signature check. */
  readonly cacheEntriesMax?: number;
  /** Tolerated clock difference with the gateway, on `exp` and `iat`. */
  readonly clockToleranceSeconds?: number;
}

/**
 * Verifies internal tokens with `jose`, and caches successes only, keyed by the whole token string: a hit is
 * a Map lookup plus an expiry check (done on every hit, so a cached token dies on time). Failures are never
 * cached, so garbage cannot fill the cache; the cache is bounded and evicts the least recently used.
 */
export class InternalTokenVerifier {
  private readonly cache = new Map<string, Principal>();
  private readonly cacheEntriesMax: number;
  private readonly toleranceSeconds: number;

  constructor(private readonly options: InternalTokenVerifierOptions) {
    this.cacheEntriesMax = options.cacheEntriesMax ?? 10_000;
    this.toleranceSeconds = options.clockToleranceSeconds ?? 5;
  }

  get cachedCount(): number {
    return this.cache.size;
  }

  async verify(token: string): Promise<Principal> {
    const nowMs = this.options.nowMs();
    const cached = this.cache.get(token);
    if (cached !== undefined) {
      this.cache.delete(token);
      if (cached.expiresAtMs + this.toleranceSeconds * 1000 <= nowMs) {
        throw new InvalidCredentialError('token expired');
      }
      this.cache.set(token, cached);
      return cached;
    }
    const principal = await this.verifyUncached(token, nowMs);
    if (this.cacheEntriesMax > 0) {
      if (this.cache.size >= this.cacheEntriesMax) {
        const oldest = this.cache.keys().next();
        if (oldest.done !== true) this.cache.delete(oldest.value);
      }
      this.cache.set(token, principal);
    }
    return principal;
  }

  private async verifyUncached(token: string, nowMs: number): Promise<Principal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.options.publicKey, {
        issuer: INTERNAL_TOKEN_ISSUER,
        audience: this.options.audience,
        algorithms: INTERNAL_TOKEN_ALGORITHMS,
        requiredClaims: ['sub', 'exp', 'iat', 'scope'],
        clockTolerance: this.toleranceSeconds,
        currentDate: new Date(nowMs),
      }));
    } catch (error) {
      throw new InvalidCredentialError(describeJoseError(error));
    }
    const { sub, exp, iat, scope } = payload;
    if (typeof sub !== 'string' || !SUBJECT.test(sub)) throw new InvalidCredentialError('invalid "sub"');
    if (typeof exp !== 'number' || typeof iat !== 'number') {
      throw new InvalidCredentialError('"exp" and "iat" must be numbers');
    }
    if (exp - iat > INTERNAL_TOKEN_LIFETIME_SECONDS_MAX) {
      throw new InvalidCredentialError(
        `token lifetime ${exp - iat} s exceeds ${INTERNAL_TOKEN_LIFETIME_SECONDS_MAX} s`,
      );
    }
    if (iat * 1000 > nowMs + this.toleranceSeconds * 1000) {
      throw new InvalidCredentialError('token issued in the future');
    }
    if (typeof scope !== 'string') throw new InvalidCredentialError('"scope" must be a string');
    const scopes = scope.split(' ').filter((s) => s.length > 0);
    if (!scopes.every((s) => SCOPE_WORD.test(s))) throw new InvalidCredentialError('invalid "scope"');
    return { subject: sub, scopes: new Set(scopes), expiresAtMs: exp * 1000, credential: 'internal-token' };
  }
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed)
    return `token claim "${error.claim}" ${error.reason}`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  return 'malformed token';
}

/** The operator's break-glass credential (OPERATOR_TOKEN): a static secret, compared in constant time. */
export class OperatorToken {
  private readonly secret: Buffer;

  constructor(secret: string) {
    this.secret = Buffer.from(secret);
  }

  matches(given: string): boolean {
    const candidate = Buffer.from(given);
    return candidate.length === this.secret.length && timingSafeEqual(candidate, this.secret);
  }

  static principal(): Principal {
    return {
      subject: 'operator',
      scopes: new Set([SCOPE_ADMIN]),
      expiresAtMs: Number.POSITIVE_INFINITY,
      credential: 'operator-token',
    };
  }
}

export interface MintInternalTokenOptions {
  readonly subject: string;
  readonly audience: string;
  readonly scopes: readonly string[];
  readonly ttlSeconds?: number;
  readonly nowMs?: number;
}

/**
 * Mints an internal token exactly as the gateway does. For the gateway, tests, demos and `npm run token --
 * --internal`; whoever holds the private key can act as any user towards every service, so it stays with the
 * gateway (and with the operator who generated it).
 */
export async function mintInternalToken(
  privateKey: KeyObject,
  options: MintInternalTokenOptions,
): Promise<string> {
  const iat = Math.floor((options.nowMs ?? Date.now()) / 1000);
  return new SignJWT({ scope: options.scopes.join(' ') })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setIssuer(INTERNAL_TOKEN_ISSUER)
    .setSubject(options.subject)
    .setAudience(options.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (options.ttlSeconds ?? INTERNAL_TOKEN_TTL_SECONDS_DEFAULT))
    .sign(privateKey);
}
