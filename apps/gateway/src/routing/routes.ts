import type { BreakerSettings } from '@concord/resilience';
import { z } from 'zod';

/**
 * The route table: which service serves a path prefix, where each request's hash key comes from, and the
 * per-route timeouts, retries and authentication. Pure data and pure functions: the proxy asks
 * {@link RouteTable.match} once per request.
 */

export type HashKeySource =
  | { readonly header: string }
  | { readonly query: string }
  | { readonly cookie: string }
  /** 0-based index of the path segment after the route prefix (`/api/orders/{0}/{1}`). */
  | { readonly segment: number };

export interface Route {
  /** Path prefix, starting with `/`, without a trailing slash (`/api/orders`). */
  readonly prefix: string;
  readonly service: string;
  readonly hashKey: HashKeySource;
  readonly timeoutMs: number | undefined;
  readonly perTryTimeoutMs: number | undefined;
  readonly maxAttempts: number | undefined;
  /** Public routes need no token. */
  readonly public: boolean;
  /** Scopes the token's `scope` claim must all contain (403 otherwise). */
  readonly scopes: readonly string[];
  /** Breaker settings of the service's instances, overriding the BREAKER_* defaults. */
  readonly breaker: RouteBreakerSettings | undefined;
}

export interface RouteBreakerSettings {
  readonly volumeThreshold?: number | undefined;
  readonly errorThresholdPercentage?: number | undefined;
  readonly resetTimeoutMs?: number | undefined;
}

export const DEFAULT_HASH_KEY: HashKeySource = { header: 'x-hash-key' };
const SERVICE_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/**
 * Internal services that are never reachable through the public gateway: the orchestrator (saga inputs,
 * 2PC decisions) and the coordinator (registry, configuration, cluster membership).
 */
export const UNROUTABLE_SERVICES: ReadonlySet<string> = new Set(['orchestrator', 'coordinator']);

const hashKeySchema = z.union([
  z.object({ header: z.string().min(1) }).strict(),
  z.object({ query: z.string().min(1) }).strict(),
  z.object({ cookie: z.string().min(1) }).strict(),
  z.object({ segment: z.number().int().min(0).max(32) }).strict(),
]);

const routeSchema = z
  .object({
    prefix: z.string().regex(/^\/[^?#]*$/, 'prefix must start with "/"'),
    service: z
      .string()
      .regex(SERVICE_NAME, 'service must be lower-case letters, digits and dashes')
      .refine(
        (name) => !UNROUTABLE_SERVICES.has(name),
        'service is internal and never routed by the gateway',
      ),
    hashKey: hashKeySchema.optional(),
    timeoutMs: z.number().int().positive().optional(),
    perTryTimeoutMs: z.number().int().positive().optional(),
    maxAttempts: z.number().int().min(1).max(10).optional(),
    public: z.boolean().optional(),
    scopes: z.array(z.string().min(1)).optional(),
    breaker: z
      .object({
        volumeThreshold: z.number().int().min(1).optional(),
        errorThresholdPercentage: z.number().min(1).max(100).optional(),
        resetTimeoutMs: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Parses a ROUTES value (or the coordinator key's); throws an Error naming the bad entry. */
export function parseRoutesJson(raw: string): Route[] {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new Error('must be a JSON array of routes');
  }
  const parsed = z.array(routeSchema).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`route ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data.map((r) => ({
    prefix: r.prefix.length > 1 ? r.prefix.replace(/\/+$/, '') : r.prefix,
    service: r.service,
    // Node presents header names in lower case.
    hashKey:
      r.hashKey !== undefined && 'header' in r.hashKey
        ? { header: r.hashKey.header.toLowerCase() }
        : (r.hashKey ?? DEFAULT_HASH_KEY),
    timeoutMs: r.timeoutMs,
    perTryTimeoutMs: r.perTryTimeoutMs,
    maxAttempts: r.maxAttempts,
    public: r.public ?? false,
    scopes: r.scopes ?? [],
    breaker: r.breaker,
  }));
}

export interface RouteMatch {
  readonly route: Route;
  /** The path sent upstream: the request path without the route prefix, always starting with `/`. */
  readonly upstreamPath: string;
  /** Query string including its `?`, or ''. */
  readonly query: string;
}

/** The default route of a service: `/api/{service}`, authenticated, keyed by X-Hash-Key. */
export function defaultRoute(service: string): Route {
  return {
    prefix: `/api/${service}`,
    service,
    hashKey: DEFAULT_HASH_KEY,
    timeoutMs: undefined,
    perTryTimeoutMs: undefined,
    maxAttempts: undefined,
    public: false,
    scopes: [],
    breaker: undefined,
  };
}

/**
 * Explicit routes, matched by longest prefix on a segment boundary; without explicit routes, every
 * `/api/{service}/...` maps to {@link defaultRoute} of that service (whether it has instances is the
 * balancer's question: no instance gives a 503 naming the service, not a 404).
 */
export class RouteTable {
  private readonly routes: readonly Route[];
  private readonly defaults = new Map<string, Route>();

  constructor(routes: readonly Route[] | undefined) {
    this.routes = routes === undefined ? [] : [...routes].sort((a, b) => b.prefix.length - a.prefix.length);
    this.explicit = routes !== undefined;
  }

  readonly explicit: boolean;

  list(): readonly Route[] {
    return this.routes;
  }

  /** `url` is the request target as received (`/api/orders/o-1?x=1`). */
  match(url: string): RouteMatch | undefined {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q);
    if (this.explicit) {
      for (const route of this.routes) {
        const rest = stripPrefix(path, route.prefix);
        if (rest !== undefined) return { route, upstreamPath: rest, query };
      }
      return undefined;
    }
    if (!path.startsWith('/api/')) return undefined;
    const end = path.indexOf('/', 5);
    const service = end < 0 ? path.slice(5) : path.slice(5, end);
    if (!SERVICE_NAME.test(service) || UNROUTABLE_SERVICES.has(service)) return undefined;
    let route = this.defaults.get(service);
    if (route === undefined) {
      route = defaultRoute(service);
      // Bounded: names come from clients, so only a limited number of default routes is remembered.
      if (this.defaults.size < 1_000) this.defaults.set(service, route);
    }
    return { route, upstreamPath: end < 0 ? '/' : path.slice(end), query };
  }
}

function stripPrefix(path: string, prefix: string): string | undefined {
  if (prefix === '/') return path;
  if (!path.startsWith(prefix)) return undefined;
  if (path.length === prefix.length) return '/';
  return path.charCodeAt(prefix.length) === 47 /* '/' */ ? path.slice(prefix.length) : undefined;
}

/** What the key extractor reads from a request. */
export interface KeySourceRequest {
  header(name: string): string | undefined;
  readonly query: string;
  readonly upstreamPath: string;
  readonly clientAddress: string;
}

/** The request's hash key from the route's source, falling back to the client address when absent. */
export function extractHashKey(source: HashKeySource, request: KeySourceRequest): string {
  let key: string | undefined;
  if ('header' in source) key = request.header(source.header);
  else if ('query' in source) key = queryParam(request.query, source.query);
  else if ('cookie' in source) key = cookieValue(request.header('cookie'), source.cookie);
  else key = request.upstreamPath.split('/')[source.segment + 1];
  return key === undefined || key === '' ? request.clientAddress : key;
}

function queryParam(query: string, name: string): string | undefined {
  if (query.length < 2) return undefined;
  return new URLSearchParams(query.slice(1)).get(name) ?? undefined;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Breaker settings per service from the configured routes (breakers are keyed by instance and take the settings
 * of the service they serve; the first route of a service that sets them wins). Routes that arrive later from
 * the coordinator do not change breakers already created.
 */
export function breakerSettingsByService(routes: readonly Route[]): Record<string, Partial<BreakerSettings>> {
  const settings: Record<string, Partial<BreakerSettings>> = {};
  for (const route of routes) {
    if (route.breaker === undefined || settings[route.service] !== undefined) continue;
    const { volumeThreshold, errorThresholdPercentage, resetTimeoutMs } = route.breaker;
    settings[route.service] = {
      ...(volumeThreshold === undefined ? {} : { volumeThreshold }),
      ...(errorThresholdPercentage === undefined ? {} : { errorThresholdPercentage }),
      ...(resetTimeoutMs === undefined ? {} : { resetTimeoutMs }),
    };
  }
  return settings;
}
