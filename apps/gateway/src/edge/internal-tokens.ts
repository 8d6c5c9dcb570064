import { createPrivateKey, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';

/**
 * The token the gateway sends upstream in place of the client's (the contract services verify):
 * EdDSA (Ed25519) JWT, header {alg: "EdDSA", typ: "JWT", kid?}, claims iss="concord-gateway", sub = the client
 * token's subject, aud = the target service, scope = "admin" or "customer", iat, exp = iat + ttl.
 *
 * Signing costs tens of microseconds, so tokens are cached per (subject, audience, scope) and reused while at
 * least a quarter of their lifetime remains: a steady client pays no signature per request.
 */
export const INTERNAL_TOKEN_ISSUER = 'concord-gateway';

export interface InternalTokenOptions {
  /** PKCS#8 PEM of an Ed25519 private key. */
  readonly privateKeyPem: string;
  readonly kid?: string | undefined;
  readonly ttlS: number;
  readonly cacheEntries?: number;
}

interface Cached {
  /** "Bearer <jwt>", ready for the Authorization header. */
  readonly header: string;
  readonly renewAtS: number;
}

export class InternalTokenMinter {
  private readonly key: KeyObject;
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<string>>();
  private readonly cacheEntries: number;

  constructor(private readonly options: InternalTokenOptions) {
    this.key = parseInternalPrivateKey(options.privateKeyPem);
    if (!(options.ttlS >= 1)) throw new RangeError('ttlS must be >= 1');
    this.cacheEntries = options.cacheEntries ?? 10_000;
  }

  /** The cached Authorization value for this identity, while still fresh enough; else undefined. */
  cached(subject: string, audience: string, scope: string, nowMs: number): string | undefined {
    const hit = this.cache.get(cacheKey(subject, audience, scope));
    return hit !== undefined && nowMs / 1000 < hit.renewAtS ? hit.header : undefined;
  }

  /** "Bearer <jwt>" for this identity: from the cache, or freshly signed (one signature per identity at once). */
  authorization(subject: string, audience: string, scope: string, nowMs: number): Promise<string> {
    const hit = this.cached(subject, audience, scope, nowMs);
    if (hit !== undefined) return Promise.resolve(hit);
    const key = cacheKey(subject, audience, scope);
    let signing = this.pending.get(key);
    if (signing === undefined) {
      signing = this.sign(key, subject, audience, scope, nowMs).finally(() => this.pending.delete(key));
      this.pending.set(key, signing);
    }
    return signing;
  }

  private async sign(
    key: string,
    subject: string,
    audience: string,
    scope: string,
    nowMs: number,
  ): Promise<string> {
    const iat = Math.floor(nowMs / 1000);
    const jwt = await new SignJWT({ scope })
      .setProtectedHeader({
        alg: 'EdDSA',
        typ: 'JWT',
        ...(this.options.kid === undefined ? {} : { kid: this.options.kid }),
      })
      .setIssuer(INTERNAL_TOKEN_ISSUER)
      .setSubject(subject)
      .setAudience(audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.options.ttlS)
      .sign(this.key);
    const header = `Bearer ${jwt}`;
    if (this.cache.size >= this.cacheEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(key, { header, renewAtS: iat + Math.max(1, Math.floor((this.options.ttlS * 3) / 4)) });
    return header;
  }
}

/** Parses the configured key; throws unless it is an Ed25519 private key in PEM. */
export function parseInternalPrivateKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('must be an Ed25519 private key (PKCS#8 PEM)');
  return key;
}

function cacheKey(subject: string, audience: string, scope: string): string {
  return `${subject}\u0000${audience}\u0000${scope}`;
}
