import { baseConfigShape, coordinationBackendConfigShape, env } from '@concord/platform';
import { z } from 'zod';
import { ClientTokenVerifier } from './edge/client-tokens.js';
import { parseInternalPrivateKey } from './edge/internal-tokens.js';
import { parseRoutesJson } from './routing/routes.js';
import { parseStaticUpstreams } from './upstreams/static-upstreams.js';

/**
 * The gateway's settings, read once at boot. Structured values (ROUTES, STATIC_UPSTREAMS) are parsed here too,
 * so a typo stops start-up with a message naming the variable instead of surfacing on the first request.
 */
export const gatewayConfigSchema = z
  .object({
    ...baseConfigShape,
    PORT: env.port('HTTP port of the gateway.', 8080),
    COORDINATOR_URLS: env
      .urlList('Comma-separated API URLs of the coordinator nodes; empty to use STATIC_UPSTREAMS only.')
      .default([]),
    COORDINATOR_TOKEN: env.optionalString(
      'Bearer token for the coordinator API (required with COORDINATOR_URLS).',
    ),
    ...coordinationBackendConfigShape,
    ROUTES_KEY: env.string(
      'Coordinator key whose JSON value (same shape as ROUTES) replaces the route table, followed by watch.',
      'config/gateway/routes',
    ),
    STATIC_UPSTREAMS: z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined) return {};
        try {
          return parseStaticUpstreams(raw);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      })
      .describe(
        'Instances used when no coordinator is configured (and as the first membership otherwise): ' +
          '"orders=orders-1@http://127.0.0.1:8101,orders-2@http://127.0.0.1:8102;inventory=...".',
      ),
    ROUTES: z
      .string()
      .optional()
      .transform((raw, ctx) => {
        if (raw === undefined) return undefined;
        try {
          return parseRoutesJson(raw);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      })
      .describe(
        'JSON array of routes [{prefix, service, hashKey?, timeoutMs?, perTryTimeoutMs?, maxAttempts?, public?, scopes?, ' +
          'breaker?}]; ' +
          'default: "/api/{service}" for every known service, authenticated, hash key from X-Hash-Key.',
      ),
    JWT_SECRET: env.optionalString(
      'HS256 secret that verifies client bearer tokens (at least 32 characters; for development).',
    ),
    JWT_PUBLIC_KEY: env.optionalString(
      'SPKI PEM public key that verifies client tokens: RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA).',
    ),
    JWT_JWKS_URL: env.optionalString(
      'URL of a JWKS whose keys verify client tokens (RS256, ES256, EdDSA; chosen by kid, refetched on an unknown kid).',
    ),
    JWT_JWKS_COOLDOWN_MS: env.int(
      'Least time between two JWKS refetches caused by an unknown kid.',
      30_000,
      0,
    ),
    JWT_ISSUER: env.optionalString('When set, client tokens must carry this "iss".'),
    JWT_AUDIENCE: env.optionalString('When set, client tokens must carry this "aud".'),
    JWT_MAX_LIFETIME_S: env.int(
      'Longest lifetime a client token may have (exp - iat, or exp - now without iat); "exp" is required.',
      86_400,
      1,
    ),
    JWT_CLOCK_SKEW_MS: env.int('Tolerance on "exp" and "nbf".', 30_000, 0, 600_000),
    SUBJECT_HEADER: env.string('Header that carries the verified token subject upstream.', 'x-auth-subject'),
    INTERNAL_TOKEN_PRIVATE_KEY: z
      .string()
      .optional()
      // A PEM kept on one line (docker/.env) writes its newlines as \n.
      .transform((pem) => pem?.replace(/\\n/g, '\n'))
      .describe(
        'PKCS#8 PEM Ed25519 private key that signs the internal tokens sent upstream (required when a route is ' +
          'authenticated; newlines may be written as \\n).',
      ),
    INTERNAL_TOKEN_KID: env.optionalString(
      '"kid" header of the internal tokens (to rotate keys on the services).',
    ),
    CONSOLE_URL: z
      .url({ message: 'must be a URL' })
      .optional()
      .describe('The console app that /console is routed to (unset: /console answers 404).'),
    INTERNAL_TOKEN_TTL_S: env.int(
      'Lifetime of an internal token (reused for three quarters of it).',
      60,
      5,
      3_600,
    ),
    ADMIN_TOKEN: env.secret('Bearer token of the admin endpoints (GET /admin/rings).'),
    HASH_ALGORITHM: z
      .enum(['ring', 'maglev', 'rendezvous'], { message: 'must be ring, maglev or rendezvous' })
      .default('ring')
      .describe('Consistent-hash algorithm: ring (virtual nodes), maglev or rendezvous.'),
    BOUNDED_LOAD_FACTOR: z.coerce
      .number({ message: 'must be a number' })
      .min(1, 'must be at least 1')
      .default(1.25)
      .describe(
        'c of consistent hashing with bounded loads; 1.25 lets an instance carry 25% above the mean.',
      ),
    ROUTE_TIMEOUT_MS: env.int(
      'Default deadline of a proxied request until its response headers arrive.',
      10_000,
      1,
    ),
    PER_TRY_TIMEOUT_MS: env.int(
      'Default timeout of one try (below ROUTE_TIMEOUT_MS so a retry fits).',
      3_000,
      1,
    ),
    MAX_ATTEMPTS: env.int('Default tries per request, the first included.', 3, 1, 10),
    RETRY_BUDGET_RATIO: z.coerce
      .number({ message: 'must be a number' })
      .min(0, 'must be at least 0')
      .max(1, 'must be at most 1')
      .default(0.2)
      .describe('Retries allowed as a share of requests (per service, 10 s window).'),
    RETRY_BUDGET_MIN_PER_SECOND: env.int('Retries always allowed per second and service.', 3, 0),
    UPSTREAM_CONNECTIONS: env.int('Keep-alive connections per upstream instance.', 64, 1, 10_000),
    UPSTREAM_KEEPALIVE_MS: env.int('Idle time before a pooled upstream connection is closed.', 30_000, 1),
    MEMBERSHIP_MERGE_MS: env.int(
      'Registry changes arriving within this window are applied together.',
      250,
      0,
      60_000,
    ),
    HEALTH_PATH: env.string('Path probed on each instance by active health checks.', '/health/ready'),
    HEALTH_INTERVAL_MS: env.int('Time between active health check rounds (0 disables them).', 2_000, 0),
    HEALTH_TIMEOUT_MS: env.int('Timeout of one health probe.', 1_000, 1),
    HEALTH_RISE: env.int('Passing checks in a row that make an instance healthy.', 2, 1),
    HEALTH_FALL: env.int('Failing checks in a row that make an instance unhealthy.', 3, 1),
    EJECT_CONSECUTIVE_FAILURES: env.int(
      'Consecutive 5xx or transport failures that eject an instance.',
      5,
      1,
    ),
    EJECT_BASE_MS: env.int('First ejection time (multiplied by the number of ejections).', 30_000, 1),
    PANIC_THRESHOLD_PERCENT: env.int(
      'Below this share of routable instances, route to all (fail open).',
      50,
      0,
      100,
    ),
    BREAKER_VOLUME_THRESHOLD: env.int('Calls in the rolling window before a breaker may open.', 10, 1),
    BREAKER_ERROR_PERCENT: env.int('Failure percentage that opens an instance breaker.', 50, 1, 100),
    BREAKER_RESET_MS: env.int('Time an open breaker waits before it may close again.', 5_000, 1),
    RATE_LIMIT_PER_SECOND: env.int(
      'Token-bucket refill per client and second (0 disables rate limiting).',
      0,
      0,
    ),
    RATE_LIMIT_BURST: env.int('Token-bucket size per client.', 100, 1),
    BODY_LIMIT_BYTES: env.int('Largest proxied request body (413 beyond).', 10 * 1024 * 1024, 0),
    HEADER_LIMIT_BYTES: env.int(
      'Largest request header section (431 beyond; Node caps it at 16 KiB too).',
      8 * 1024,
      256,
    ),
    CLIENT_HEADERS_TIMEOUT_MS: env.int('Time a client has to send its request headers.', 10_000, 1),
    CLIENT_REQUEST_TIMEOUT_MS: env.int(
      'Time a client has to send its whole request, body included.',
      60_000,
      1,
    ),
  })
  .superRefine((config, ctx) => {
    if (config.COORDINATOR_URLS.length > 0 && config.COORDINATOR_TOKEN === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['COORDINATOR_TOKEN'],
        message: 'is required with COORDINATOR_URLS',
      });
    }
    if (config.JWT_SECRET !== undefined && config.JWT_SECRET.length < 32) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'must be at least 32 characters' });
    }
    if (config.JWT_PUBLIC_KEY !== undefined) {
      try {
        new ClientTokenVerifier({ publicKeyPem: config.JWT_PUBLIC_KEY, maxLifetimeS: 1, clockSkewS: 0 });
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['JWT_PUBLIC_KEY'], message: (error as Error).message });
      }
    }
    if (config.JWT_JWKS_URL !== undefined && !/^https?:\/\//.test(config.JWT_JWKS_URL)) {
      ctx.addIssue({ code: 'custom', path: ['JWT_JWKS_URL'], message: 'must be an http(s) URL' });
    }
    const everyRoutePublic = config.ROUTES !== undefined && config.ROUTES.every((r) => r.public);
    if (
      config.JWT_SECRET === undefined &&
      config.JWT_PUBLIC_KEY === undefined &&
      config.JWT_JWKS_URL === undefined &&
      !everyRoutePublic
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['JWT_SECRET'],
        message: 'JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL is required while some route is authenticated',
      });
    }
    if (config.INTERNAL_TOKEN_PRIVATE_KEY === undefined && !everyRoutePublic) {
      ctx.addIssue({
        code: 'custom',
        path: ['INTERNAL_TOKEN_PRIVATE_KEY'],
        message: 'is required while some route is authenticated (the gateway signs the identity it forwards)',
      });
    }
    if (config.INTERNAL_TOKEN_PRIVATE_KEY !== undefined) {
      try {
        parseInternalPrivateKey(config.INTERNAL_TOKEN_PRIVATE_KEY);
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          path: ['INTERNAL_TOKEN_PRIVATE_KEY'],
          message: (error as Error).message.includes('Ed25519')
            ? (error as Error).message
            : 'must be an Ed25519 private key (PKCS#8 PEM)',
        });
      }
    }
    if (config.PER_TRY_TIMEOUT_MS > config.ROUTE_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['PER_TRY_TIMEOUT_MS'],
        message: 'must not exceed ROUTE_TIMEOUT_MS',
      });
    }
    if (config.COORDINATION_BACKEND === 'etcd' && config.ETCD_ENDPOINTS.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['ETCD_ENDPOINTS'],
        message: 'is required with COORDINATION_BACKEND=etcd',
      });
    }
    const registry = config.COORDINATION_BACKEND === 'etcd' ? config.ETCD_ENDPOINTS : config.COORDINATOR_URLS;
    if (registry.length === 0 && Object.keys(config.STATIC_UPSTREAMS).length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['STATIC_UPSTREAMS'],
        message: 'is required when COORDINATOR_URLS is empty (nowhere to find instances)',
      });
    }
  });

export type GatewayConfig = z.infer<typeof gatewayConfigSchema>;
