import { generateKeyPairSync } from 'node:crypto';
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
  readonly apiToken: string;
  /** The gateway's internal-token key pair: services get the public key (INTERNAL_TOKEN_PUBLIC_KEY). */
  readonly internalKeys: { readonly privateKeyPem: string; readonly publicKeyPem: string };
  readonly processes: ProcessGroup;
  readonly orchestrator: ProcessHandle | undefined;
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
  const postgres = await startPostgres({ databases: [...DOMAIN_APPS, 'orchestrator'] });
  const nats = await startNats();
  const apiToken = 'domain-test-api-token-0123456789';
  const pair = generateKeyPairSync('ed25519');
  const internalKeys = {
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
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
        DATABASE_URL: postgres.url(app),
        NATS_URL: nats.url,
        API_TOKEN: apiToken,
        INTERNAL_TOKEN_PUBLIC_KEY: internalKeys.publicKeyPem,
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
  const orchestrator =
    options.orchestrator !== false && isBuilt('orchestrator')
      ? (await start('orchestrator')).process
      : undefined;

  return {
    postgres,
    nats,
    urls,
    databaseUrls,
    apiToken,
    internalKeys,
    processes,
    orchestrator,
    start,
    async stop() {
      await processes.stopAll();
      await nats.stop();
      await postgres.stop();
    },
  };
}
