import { createHash } from 'node:crypto';

/**
 * Who a bearer token speaks for, and what each may do (issue 14, least privilege):
 * - `admin`: everything, including `/v1/cluster/*` changes and writes under `config/`.
 * - `client` (the general token): KV, leases, locks, elections and watches outside `config/` and `services/`,
 *   reads (get, range, cluster view) everywhere, no cluster changes.
 * - `service`: registers its own instances only (`services/{service}/*`), keeps leases, reads and watches
 *   `config/`, and uses locks and elections named after itself (`{service}` or `{service}-*`: the orchestrator's
 *   leader election).
 * - `reader` (the gateway): reads and watches everywhere, writes nothing.
 */
export type Principal =
  | { readonly role: 'admin'; readonly name: string }
  | { readonly role: 'client'; readonly name: string }
  | { readonly role: 'reader'; readonly name: string }
  | { readonly role: 'service'; readonly name: string; readonly service: string };

/** What one request does, as far as access control cares. */
export type Access =
  /** get of a key or range over a prefix (`prefix: true`) */
  | { readonly kind: 'read'; readonly key: string; readonly prefix: boolean }
  | { readonly kind: 'watch'; readonly key: string; readonly prefix: boolean }
  /** put or delete of keys (a txn lists all keys it may write) */
  | { readonly kind: 'write'; readonly keys: readonly string[] }
  /** grant, keep alive, revoke, look up a lease */
  | { readonly kind: 'lease' }
  /** locks and elections by name (their keys live under `locks/` and `elections/`) */
  | { readonly kind: 'sync'; readonly name: string }
  /** lease info, election leader, cluster view: metadata every role may read */
  | { readonly kind: 'info' }
  | { readonly kind: 'clusterWrite' };

const PROTECTED = ['config/', 'services/'] as const;

/** Does the key (or every key under the prefix) lie inside `area`? */
const inside = (key: string, area: string): boolean => key.startsWith(area);
/** May the key (or some key under the prefix) lie inside `area`? */
const touches = (key: string, prefix: boolean, area: string): boolean =>
  key.startsWith(area) || (prefix && area.startsWith(key));

const ownName = (service: string, name: string): boolean =>
  name === service || name.startsWith(`${service}-`);

/** `null` when allowed, else the reason for a 403. */
export function authorize(principal: Principal, access: Access): string | null {
  if (principal.role === 'admin') return null;
  const who = `the ${principal.role} token${principal.role === 'service' ? ` of ${principal.service}` : ''}`;
  switch (access.kind) {
    case 'read':
      if (principal.role !== 'service') return null;
      return inside(access.key, 'config/') ? null : `${who} may read only config/`;
    case 'watch':
      if (principal.role === 'reader') return null;
      if (principal.role === 'service')
        return inside(access.key, 'config/') ? null : `${who} may watch only config/`;
      return PROTECTED.some((area) => touches(access.key, access.prefix, area))
        ? `${who} may not watch config/ or services/ (use the read-only token)`
        : null;
    case 'write': {
      if (principal.role === 'reader') return `${who} is read-only`;
      if (principal.role === 'service') {
        const own = `services/${principal.service}/`;
        const bad = access.keys.find((k) => !inside(k, own) || k.length === own.length);
        return bad === undefined ? null : `${who} may write only ${own}*, not ${bad}`;
      }
      const bad = access.keys.find((k) => PROTECTED.some((area) => inside(k, area)));
      return bad === undefined ? null : `${who} may not write ${bad} (config/ needs the admin token)`;
    }
    case 'lease':
      return principal.role === 'reader' ? `${who} is read-only` : null;
    case 'sync':
      if (principal.role === 'client') return null;
      if (principal.role === 'service' && ownName(principal.service, access.name)) return null;
      return principal.role === 'service'
        ? `${who} may use only locks and elections named ${principal.service} or ${principal.service}-*`
        : `${who} may not use locks or elections`;
    case 'info':
      return null;
    case 'clusterWrite':
      return `${who} may not change the cluster (needs the admin token)`;
  }
}

export interface TokenConfig {
  readonly ADMIN_TOKEN: string;
  readonly CLIENT_TOKEN: string;
  readonly READ_TOKEN?: string | undefined;
  readonly SERVICE_TOKENS: ReadonlyMap<string, string>;
}

const digest = (token: string): string => createHash('sha256').update(token).digest('base64');

/**
 * Token → principal. Presented tokens are looked up by their SHA-256, so the comparison does not leak the
 * secret's bytes through timing. Distinct roles must have distinct tokens.
 */
export class TokenDirectory {
  private readonly byDigest = new Map<string, Principal>();

  constructor(config: TokenConfig) {
    this.add(config.ADMIN_TOKEN, { role: 'admin', name: 'admin' });
    this.add(config.CLIENT_TOKEN, { role: 'client', name: 'client' });
    if (config.READ_TOKEN !== undefined) this.add(config.READ_TOKEN, { role: 'reader', name: 'reader' });
    for (const [service, token] of config.SERVICE_TOKENS)
      this.add(token, { role: 'service', name: `service:${service}`, service });
  }

  /** The principal of an `Authorization` header value, `undefined` for none or an unknown token. */
  resolve(header: string | undefined): Principal | undefined {
    if (header === undefined || !header.startsWith('Bearer ')) return undefined;
    return this.byDigest.get(digest(header.slice('Bearer '.length).trim()));
  }

  private add(token: string, principal: Principal): void {
    const d = digest(token);
    const taken = this.byDigest.get(d);
    if (taken !== undefined)
      throw new Error(
        `the ${principal.name} token is the same as the ${taken.name} token; give each its own`,
      );
    this.byDigest.set(d, principal);
  }
}
