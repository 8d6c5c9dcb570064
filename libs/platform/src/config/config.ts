import { z } from 'zod';
import { parseInternalTokenPublicKey } from '../auth/internal-token.js';

/**
 * Configuration is read once, from the environment, at boot; validated against a zod schema; and injected
 * typed. A bad value stops start-up with one line that names the variable (see {@link ConfigError}).
 * This file is the only place in the project that reads `process.env` for application settings.
 */

export class ConfigError extends Error {
  constructor(readonly issues: readonly { variable: string; problem: string }[]) {
    super(issues.map((i) => `${i.variable}: ${i.problem}`).join('; '));
    this.name = 'ConfigError';
  }
}

/** Parses `env` against `schema`; throws {@link ConfigError} naming every bad variable. */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const wanted: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // An empty variable counts as unset, as in most shells' `VAR= cmd`.
    wanted[key] = value === '' ? undefined : value;
  }
  const result = schema.safeParse(wanted);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? '(config)');
      const given = wanted[variable];
      const shown = given === undefined ? 'it is not set' : `got ${JSON.stringify(given)}`;
      return { variable, problem: `${issue.message} (${shown})` };
    }),
  );
}

/** Building blocks for config schemas, each with a description that `docs/operations.md` is generated from. */
export const env = {
  port: (description: string, fallback?: number) => {
    const schema = z.coerce
      .number({ message: 'must be a port number' })
      .int('must be an integer port number')
      .min(1, 'must be between 1 and 65535')
      .max(65535, 'must be between 1 and 65535');
    return (fallback === undefined ? schema : schema.default(fallback)).describe(description);
  },
  int: (description: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce
      .number({ message: 'must be a number' })
      .int('must be an integer')
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`)
      .default(fallback)
      .describe(description),
  string: (description: string, fallback?: string) =>
    (fallback === undefined ? z.string().min(1, 'must not be empty') : z.string().default(fallback)).describe(
      description,
    ),
  optionalString: (description: string) => z.string().optional().describe(description),
  secret: (description: string, minLength = 16) =>
    z.string().min(minLength, `must be at least ${minLength} characters`).describe(description),
  url: (description: string, fallback?: string) => {
    const schema = z.url({ message: 'must be a URL' });
    return (fallback === undefined ? schema : schema.default(fallback)).describe(description);
  },
  urlList: (description: string) =>
    z
      .string()
      .transform((raw, ctx) => {
        const urls = raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        for (const u of urls) {
          if (!URL.canParse(u)) ctx.addIssue({ code: 'custom', message: `"${u}" is not a URL` });
        }
        return urls;
      })
      .describe(description),
  bool: (description: string, fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
      .transform((v) => v === 'true' || v === '1')
      .default(fallback)
      .describe(description),
  logLevel: () =>
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
        message: 'must be one of fatal, error, warn, info, debug, trace, silent',
      })
      .default('info')
      .describe('Minimum level of the JSON log lines written to stdout.'),
};

/** Settings every Concord app has. Apps extend this schema with their own. */
export const baseConfigShape = {
  HOST: env.string(
    'Address the HTTP server binds to: loopback by default; 0.0.0.0 (or an interface address) to serve other hosts.',
    '127.0.0.1',
  ),
  LOG_LEVEL: env.logLevel(),
  INSTANCE_ID: env.optionalString(
    'This instance\'s id in logs, metrics and the registry (default: "<app>-<port>").',
  ),
  SHUTDOWN_GRACE_MS: env.int(
    'How long SIGTERM waits for in-flight requests before closing anyway.',
    10_000,
    0,
  ),
};

/**
 * Which coordination backend an app uses (every app that talks to a coordinator: services, orchestrator, gateway).
 * `concord` uses COORDINATOR_URLS and COORDINATOR_TOKEN; `etcd` uses ETCD_ENDPOINTS, same keys and semantics.
 */
export const coordinationBackendConfigShape = {
  COORDINATION_BACKEND: z
    .enum(['concord', 'etcd'], { message: 'must be concord or etcd' })
    .default('concord')
    .describe("Coordination backend: concord (Concord's coordinator) or etcd (an etcd v3 cluster)."),
  ETCD_ENDPOINTS: env
    .urlList('Comma-separated client URLs of the etcd members (with COORDINATION_BACKEND=etcd).')
    .default([]),
  ETCD_USERNAME: env.optionalString('etcd user, when the etcd cluster has authentication enabled.'),
  ETCD_PASSWORD: env.optionalString('Password of ETCD_USERNAME.'),
};

/** Settings of the apps that own a database and talk over NATS (domain services and the orchestrator). */
export const serviceConfigShape = {
  DATABASE_URL: env.url(
    "PostgreSQL URL of this service's own database (postgres://user:password@host:port/db).",
  ),
  NATS_URL: env
    .urlList(
      'NATS server URL (nats://host:port), or every seed of a cluster, comma-separated (nats://a:4222,nats://b:4222).',
    )
    .refine((urls) => urls.length > 0, 'must name at least one server')
    .transform((urls) => urls.join(',')),
  NATS_USER: env.optionalString(
    "This service's NATS user (its subject permissions are derived from libs/contracts); with NATS_PASSWORD.",
  ),
  NATS_PASSWORD: env.optionalString('Password of NATS_USER.'),
  COORDINATOR_URLS: env
    .urlList('Comma-separated API URLs of the coordinator nodes; empty to run without one.')
    .default([]),
  COORDINATOR_TOKEN: env.optionalString(
    'Bearer token for the coordinator API (required with COORDINATOR_URLS).',
  ),
  ...coordinationBackendConfigShape,
  PUBLIC_URL: env.optionalString(
    'URL other processes use to reach this instance (default: http://127.0.0.1:<PORT>).',
  ),
  SINGLETON_LEASE_TTL_SECONDS: env.int(
    "Lease TTL of this instance's hold on a singleton job (reservation expiry, re-send sweeper, in-doubt recovery, outbox relay): a dead or frozen holder is replaced within it.",
    10,
    1,
    300,
  ),
  INTERNAL_TOKEN_PUBLIC_KEY: z
    .string({ message: 'must be set' })
    .superRefine((pem, ctx) => {
      try {
        parseInternalTokenPublicKey(pem);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `must be an Ed25519 SPKI PEM: ${(error as Error).message}` });
      }
    })
    .describe(
      "Ed25519 public key (SPKI PEM) of the gateway's internal tokens; every non-health endpoint requires one.",
    ),
  INTERNAL_TOKEN_CACHE_ENTRIES: env.int(
    'Verified internal tokens remembered (by token string) so a repeat pays no signature check; 0 disables.',
    10_000,
    0,
    1_000_000,
  ),
  OPERATOR_TOKEN: env
    .secret(
      'Break-glass operator credential: a static bearer token with the admin scope. Unset by default.',
      32,
    )
    .optional(),
};

/** This instance's id (INSTANCE_ID, or "<app>-<port>") and the URL others reach it at (PUBLIC_URL, or loopback). */
export function instanceIdentity(
  app: string,
  config: { PORT: number; INSTANCE_ID?: string | undefined; PUBLIC_URL?: string | undefined },
): { instanceId: string; url: string } {
  return {
    instanceId: config.INSTANCE_ID ?? `${app}-${config.PORT}`,
    url: config.PUBLIC_URL ?? `http://127.0.0.1:${config.PORT}`,
  };
}

export type BaseConfig = {
  PORT: number;
  HOST: string;
  LOG_LEVEL: string;
  INSTANCE_ID?: string | undefined;
  SHUTDOWN_GRACE_MS: number;
};
