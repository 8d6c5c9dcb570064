/**
 * The six apps boot for real, as built (`npm run build`), each as its own process: validated configuration,
 * /health, /health/ready with real dependencies, /metrics, JSON logs with request ids, graceful SIGTERM.
 */
import { generateInternalTokenKeyPair } from '@concord/platform';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  freePort,
  type NatsHandle,
  type PostgresHandle,
  ProcessGroup,
  startNats,
  startPostgres,
} from '@concord/infra';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const main = (app: string) => path.join(ROOT, 'dist/apps', app, 'src/main.js');
const SECRET = 'test-secret-0123456789abcdef-0123456789abcdef';

let pg: PostgresHandle;
let nats: NatsHandle;
const group = new ProcessGroup();

beforeAll(async () => {
  [pg, nats] = await Promise.all([
    startPostgres({ databases: ['orders', 'inventory', 'payments', 'orchestrator'] }),
    startNats(),
  ]);
});

afterAll(async () => {
  await group.stopAll();
  await Promise.all([pg?.stop(), nats?.stop()]);
});

async function envFor(app: string, port: number): Promise<Record<string, string>> {
  const common = { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' };
  switch (app) {
    case 'coordinator': {
      const peerPort = await freePort();
      return {
        ...common,
        NODE_ID: 'n1',
        PEER_PORT: String(peerPort),
        PEERS: `n1=127.0.0.1:${peerPort}`,
        API_URLS: `n1=http://127.0.0.1:${port}`,
        DATA_DIR: await mkdtemp(path.join(os.tmpdir(), 'concord-coordinator-')),
        CLUSTER_SECRET: SECRET,
        CLIENT_TOKEN: SECRET,
        ADMIN_TOKEN: `admin-${SECRET}`,
      };
    }
    case 'gateway':
      return {
        ...common,
        JWT_SECRET: SECRET,
        ADMIN_TOKEN: SECRET,
        INTERNAL_TOKEN_PRIVATE_KEY: generateInternalTokenKeyPair().privateKeyPem,
        STATIC_UPSTREAMS: 'orders=orders-1@http://127.0.0.1:9',
      };
    default:
      return {
        ...common,
        DATABASE_URL: pg.url(app),
        NATS_URL: nats.url,
        INTERNAL_TOKEN_PUBLIC_KEY: generateInternalTokenKeyPair().publicKeyPem,
      };
  }
}

describe.each(['gateway', 'coordinator', 'orchestrator', 'orders', 'inventory', 'payments'])('%s', (app) => {
  it('boots, reports health, readiness and metrics, logs JSON with request ids, and drains on SIGTERM', async () => {
    const port = await freePort();
    const proc = await group.start({
      name: app,
      command: process.execPath,
      args: [main(app)],
      env: await envFor(app, port),
      cwd: ROOT,
      ready: { url: `http://127.0.0.1:${port}/health/ready`, timeoutMs: 60_000 },
    });
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'alive' });
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { status: string }).status).toBe('ready');
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    const text = await metrics.text();
    expect(text).toContain('# TYPE http_requests_total counter');
    expect(text).toContain('process_cpu_seconds_total');

    const missing = await fetch(`${base}/no-such-route`, { headers: { 'x-request-id': `probe-${app}` } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toBe(`probe-${app}`);

    proc.kill('SIGTERM');
    const exit = await proc.waitForExit(20_000);
    expect(exit).toEqual({ code: 0, signal: null });
    const lines = proc
      .logs()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.app === app && typeof l.level === 'string')).toBe(true);
    expect(lines.some((l) => l.requestId === `probe-${app}`)).toBe(true);
    expect(lines.some((l) => l.msg === 'shutdown complete')).toBe(true);
    // A clean boot and shutdown says nothing at error level (the stack's terminal shows every error line).
    expect(lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([]);
    // Nor any deprecation warning (Node or Fastify) on stderr.
    expect(proc.logs()).not.toMatch(/DeprecationWarning|FastifyWarning/);
  });

  it('refuses to start with a bad variable, in one line naming it', async () => {
    const proc = await group.start({
      name: `${app}-bad`,
      command: process.execPath,
      args: [main(app)],
      env: { ...(await envFor(app, 1)), PORT: 'eighty' },
      cwd: ROOT,
    });
    const exit = await proc.waitForExit(20_000);
    expect(exit.code).toBe(1);
    const output = proc.logs().trim().split('\n');
    expect(output).toHaveLength(1);
    expect(output[0]).toMatch(
      new RegExp(`^${app}: invalid configuration: PORT: must be a port number \\(got "eighty"\\)`),
    );
  });
});
