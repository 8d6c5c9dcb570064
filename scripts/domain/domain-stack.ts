import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  ProcessGroup,
  startNats,
  startPostgres,
  startProcess,
  type NatsHandle,
  type PostgresHandle,
  type ProcessHandle,
} from '@concord/infra';
import { NATS_USERS, type NatsUser, natsUserConfigs } from '@concord/contracts';
import {
  generateInternalTokenKeyPair,
  mintInternalToken,
  parseInternalTokenPrivateKey,
  SCOPE_ADMIN,
} from '@concord/platform';

/**
 * The domain services as real processes (built JavaScript under dist/), on a private PostgreSQL and NATS:
 * orders, inventory, payments, and the orchestrator when it has been built. Tests talk to the services by
 * URL only, so the same tests can later be pointed at the gateway (`/api/{service}`).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DOMAIN_APPS = ['orders', 'inventory', 'payments'] as const;
export type DomainApp = (typeof DOMAIN_APPS)[number];

export interface DomainStack {
  readonly postgres: PostgresHandle;
  readonly nats: NatsHandle;
  /** Base URL of each service's API (a gateway would answer `<gateway>/api/<service>`). */
  readonly urls: Readonly<Record<DomainApp, string>>;
  readonly databaseUrls: Readonly<Record<DomainApp, string>>;
  /** The gateway's public key, as every service is configured with it. */
  readonly internalTokenPublicKey: string;
  /** A fresh internal token for `service` (default: an admin, subject "test-operator"), as the gateway mints. */
  token(service: string, subject?: string, scopes?: readonly string[]): Promise<string>;
  /** The services' OPERATOR_TOKEN (break-glass static credential with the admin scope). */
  readonly operatorToken: string;
  /** The gateway's internal-token key pair: services get the public key (INTERNAL_TOKEN_PUBLIC_KEY). */
  readonly internalKeys: { readonly privateKeyPem: string; readonly publicKeyPem: string };
  readonly processes: ProcessGroup;
  /** Each service's NATS password (user = the service's name). */
  readonly natsPasswords: Readonly<Record<NatsUser, string>>;
  readonly orchestrator: ProcessHandle | undefined;
  /** The first process of each domain app (to freeze, kill or restart it). */
  readonly handles: Readonly<Record<DomainApp, ProcessHandle>>;
  readonly orchestratorUrl: string | undefined;
  /** Starts (another instance of) an app; answers its process. */
  start(
    app: DomainApp | 'orchestrator',
    env?: Record<string, string>,
  ): Promise<{ process: ProcessHandle; url: string }>;
  stop(): Promise<void>;
}

export interface DomainStackOptions {
  /** Start the orchestrator too (when dist/apps/orchestrator exists). Default true. */
  readonly orchestrator?: boolean;
  /** Extra environment per app. */
  readonly env?: Partial<Record<DomainApp | 'orchestrator', Record<string, string>>>;
  readonly readyTimeoutMs?: number;
}

export function builtMain(app: string): string {
  return path.join(ROOT, 'dist/apps', app, 'src/main.js');
}

export function isBuilt(app: string): boolean {
  return fs.existsSync(builtMain(app));
}

export async function startDomainStack(options: DomainStackOptions = {}): Promise<DomainStack> {
  for (const app of DOMAIN_APPS) {
    if (!isBuilt(app)) throw new Error(`${builtMain(app)} is missing: run \`npm run build\` first`);
  }
  const processes = new ProcessGroup();
  // As `npm run stack` runs them: one PostgreSQL role per service database, one NATS user per service.
  const postgres = await startPostgres();
  const secret = () => randomBytes(18).toString('base64url');
  const roleUrls = Object.fromEntries(
    await Promise.all(
      [...DOMAIN_APPS, 'orchestrator'].map(async (app) => [
        app,
        await postgres.createServiceDatabase(app, secret()),
      ]),
    ),
  ) as Record<DomainApp | 'orchestrator', string>;
  const natsPasswords = Object.fromEntries(NATS_USERS.map((user) => [user, secret()])) as Record<
    NatsUser,
    string
  >;
  const nats = await startNats({ users: natsUserConfigs(natsPasswords) });
  const keys = generateInternalTokenKeyPair();
  const privateKey = parseInternalTokenPrivateKey(keys.privateKeyPem);
  const operatorToken = 'domain-test-operator-token-0123456789abcdef';
  const token = (service: string, subject = 'test-operator', scopes: readonly string[] = [SCOPE_ADMIN]) =>
    mintInternalToken(privateKey, { subject, audience: service, scopes });
  const databaseUrls = Object.fromEntries(DOMAIN_APPS.map((app) => [app, postgres.url(app)])) as Record<
    DomainApp,
    string
  >;

  const start = async (
    app: DomainApp | 'orchestrator',
    env: Record<string, string> = {},
  ): Promise<{ process: ProcessHandle; url: string }> => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = await startProcess({
      name: `${app}-${port}`,
      command: process.execPath,
      args: ['--enable-source-maps', builtMain(app)],
      cwd: ROOT,
      env: {
        PORT: String(port),
        HOST: '127.0.0.1',
        INSTANCE_ID: `${app}-${port}`,
        LOG_LEVEL: 'info',
        DATABASE_URL: roleUrls[app],
        NATS_URL: nats.url,
        NATS_USER: app,
        NATS_PASSWORD: natsPasswords[app],
        INTERNAL_TOKEN_PUBLIC_KEY: keys.publicKeyPem,
        OPERATOR_TOKEN: operatorToken,
        ...options.env?.[app],
        ...env,
      },
      ready: { url: `${url}/health/ready`, timeoutMs: options.readyTimeoutMs ?? 60_000 },
    });
    processes.add(child);
    return { process: child, url };
  };

  const started = await Promise.all(DOMAIN_APPS.map((app) => start(app)));
  const urls = Object.fromEntries(DOMAIN_APPS.map((app, i) => [app, started[i]?.url ?? ''])) as Record<
    DomainApp,
    string
  >;
  const handles = Object.fromEntries(DOMAIN_APPS.map((app, i) => [app, started[i]!.process])) as Record<
    DomainApp,
    ProcessHandle
  >;
  const orchestratorStarted =
    options.orchestrator !== false && isBuilt('orchestrator') ? await start('orchestrator') : undefined;
  const orchestrator = orchestratorStarted?.process;

  return {
    postgres,
    nats,
    urls,
    databaseUrls,
    internalTokenPublicKey: keys.publicKeyPem,
    internalKeys: keys,
    token,
    operatorToken,
    processes,
    natsPasswords,
    orchestrator,
    handles,
    orchestratorUrl: orchestratorStarted?.url,
    start,
    async stop() {
      await processes.stopAll();
      await nats.stop();
      await postgres.stop();
    },
  };
}
