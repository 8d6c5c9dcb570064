/**
 * Failover with real processes: the built gateway (dist/) in front of three small upstream processes.
 * SIGKILL of one instance under load: after detection at least 99.9% of requests succeed, and keys of the
 * surviving instances do not move. SIGSTOP of one instance: its breaker opens and its keys move away; after
 * SIGCONT the instance is healthy again and its keys come back.
 */
import path from 'node:path';
import { freePort, type ProcessHandle, ProcessGroup, waitFor } from '@concord/infra';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, JWT_SECRET, send } from './support.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FIXTURE = path.join(ROOT, 'test/gateway/fixtures/upstream.ts');
const KEYS = Array.from({ length: 300 }, (_, i) => `user-${i}`);

let group: ProcessGroup;
let upstreams: ProcessHandle[];
let base: string;

beforeEach(async ({ onTestFailed }) => {
  group = new ProcessGroup();
  group.printLogsOnFailure(onTestFailed);
  const ports = [await freePort(), await freePort(), await freePort()];
  upstreams = await Promise.all(
    ports.map((port, i) =>
      group.start({
        name: `orders-${i + 1}`,
        command: process.execPath,
        args: ['--import', 'tsx', FIXTURE, `orders-${i + 1}`, String(port)],
        cwd: ROOT,
        ready: { url: `http://127.0.0.1:${port}/health`, timeoutMs: 30_000 },
      }),
    ),
  );
  const gatewayPort = await freePort();
  base = `http://127.0.0.1:${gatewayPort}`;
  await group.start({
    name: 'gateway',
    command: process.execPath,
    args: ['--enable-source-maps', path.join(ROOT, 'dist/apps/gateway/src/main.js')],
    cwd: ROOT,
    env: {
      PORT: String(gatewayPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      JWT_SECRET,
      ADMIN_TOKEN,
      STATIC_UPSTREAMS: `orders=${ports.map((p, i) => `orders-${i + 1}@http://127.0.0.1:${p}`).join(',')}`,
      ROUTES: JSON.stringify([{ prefix: '/api/orders', service: 'orders', public: true }]),
      HEALTH_PATH: '/health',
      HEALTH_INTERVAL_MS: '250',
      HEALTH_TIMEOUT_MS: '200',
      HEALTH_FALL: '2',
      HEALTH_RISE: '2',
      PER_TRY_TIMEOUT_MS: '300',
      ROUTE_TIMEOUT_MS: '2000',
      BREAKER_VOLUME_THRESHOLD: '5',
      BREAKER_RESET_MS: '1000',
      // Passive ejection may take the stalled instance out too; keep its time short so the test sees it return.
      EJECT_BASE_MS: '2000',
    },
    ready: { url: `${base}/health/ready`, timeoutMs: 30_000 },
  });
});

afterEach(async () => {
  for (const upstream of upstreams) upstream.sigcont();
  await group.stopAll(5_000);
});

async function ownerOf(key: string): Promise<string> {
  const answer = await send(base, 'GET', '/api/orders/fast', { 'x-hash-key': key });
  expect(answer.status).toBe(200);
  return String(answer.headers['x-upstream-instance']);
}

async function owners(): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (const key of KEYS) result.set(key, await ownerOf(key));
  return result;
}

interface Sample {
  readonly startedMs: number;
  readonly status: number;
}

/** Runs `concurrency` request loops over the keys until `stop` resolves. */
async function load(concurrency: number, stop: Promise<void>, samples: Sample[] = []): Promise<Sample[]> {
  let running = true;
  void stop.then(() => (running = false));
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (running) {
        const key = KEYS[next++ % KEYS.length]!;
        const startedMs = performance.now();
        const status = await send(base, 'GET', '/api/orders/fast', { 'x-hash-key': key }).then(
          (a) => a.status,
          () => 0,
        );
        samples.push({ startedMs, status });
      }
    }),
  );
  return samples;
}

interface InstanceView {
  id: string;
  healthy: boolean;
  ejected: boolean;
  breaker: string;
}

async function adminView(): Promise<InstanceView[]> {
  const answer = await send(base, 'GET', '/admin/rings', { authorization: `Bearer ${ADMIN_TOKEN}` });
  const view = answer.json<{ services: { service: string; instances: InstanceView[] }[] }>();
  return view.services.find((s) => s.service === 'orders')?.instances ?? [];
}

async function retries(): Promise<number> {
  const text = (await send(base, 'GET', '/metrics')).body.toString();
  let total = 0;
  for (const match of text.matchAll(/^gateway_retries_total\{[^}]*\} (\d+)$/gm)) total += Number(match[1]);
  return total;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('gateway failover with real processes', () => {
  it('SIGKILL of one of three instances under load: >= 99.9% succeed after detection, other keys stay', async () => {
    const before = await owners();
    const victim = upstreams[1]!;
    // Detection: two failed health checks 250 ms apart (plus jitter and probe timeout): 1 s after the kill.
    let detectedAtMs = Infinity;
    const samples: Sample[] = [];
    const afterDetection = () => samples.filter((s) => s.startedMs >= detectedAtMs);
    await load(
      16,
      (async () => {
        await pause(1_000);
        const killedAtMs = performance.now();
        victim.sigkill();
        detectedAtMs = killedAtMs + 1_000;
        // At least 2,000 requests after detection (so that 99.9% means something), 20 s at most.
        await waitFor(() => afterDetection().length >= 2_000 || performance.now() - killedAtMs > 20_000, {
          timeoutMs: 30_000,
          intervalMs: 100,
        });
      })(),
      samples,
    );
    const after = afterDetection();
    const ok = after.filter((s) => s.status === 200).length;
    const allOk = samples.filter((s) => s.status === 200).length;
    process.stderr.write(
      `failover: ${samples.length} requests, ${allOk} ok overall; after detection ${ok}/${after.length}\n`,
    );
    expect(after.length).toBeGreaterThanOrEqual(1_000);
    expect(ok / after.length).toBeGreaterThanOrEqual(0.999);

    const later = await owners();
    for (const key of KEYS) {
      if (before.get(key) === 'orders-2') expect(later.get(key)).not.toBe('orders-2');
      else expect(later.get(key)).toBe(before.get(key));
    }
  });

  it('SIGSTOP trips the instance breaker and moves its keys away; after SIGCONT they come back', async () => {
    const before = await owners();
    const stalledKeys = KEYS.filter((k) => before.get(k) === 'orders-3');
    expect(stalledKeys.length).toBeGreaterThan(30);
    const stalled = upstreams[2]!;
    stalled.sigstop();
    const stop = pause(2_500);
    const samples = await load(8, stop);
    expect(samples.filter((s) => s.status === 200).length / samples.length).toBeGreaterThan(0.99);
    await waitFor(async () => (await adminView()).find((i) => i.id === 'orders-3')?.breaker === 'open', {
      timeoutMs: 10_000,
      description: 'breaker of orders-3 open',
    });
    // Moved away up front: no try goes to the stalled instance first (no retries while answering them).
    const retriesBefore = await retries();
    for (const key of stalledKeys.slice(0, 20)) expect(await ownerOf(key)).not.toBe('orders-3');
    expect(await retries()).toBe(retriesBefore);
    stalled.sigcont();
    await waitFor(
      async () => {
        const view = (await adminView()).find((i) => i.id === 'orders-3');
        return view?.healthy === true && !view.ejected && view.breaker === 'closed';
      },
      { timeoutMs: 15_000, description: 'orders-3 healthy, not ejected, with its breaker closed' },
    );
    const after = await owners();
    for (const key of KEYS) expect(after.get(key)).toBe(before.get(key));
  });
});
