/**
 * The gateway's hot path against a direct call and against nginx, in the same run:
 *
 *   npm run bench:gateway          (builds first; nginx is used when /usr/sbin/nginx or `nginx` exists)
 *
 * Ten trivial upstream processes (test/gateway/fixtures/upstream.ts, GET /fast). Targets: the built gateway
 * (consistent hashing with bounded loads, breakers, retries; public route keyed by X-Hash-Key); one upstream
 * called directly; nginx with `hash $http_x_hash_key consistent` and upstream `keepalive`, one worker (the
 * gateway is one Node process). At 16, 64 and 256 connections, with uniform and Zipf (s = 1.1) keys, each run
 * measures requests per second, p50/p99 latency, CPU seconds of the proxy per 1,000 requests (from /proc), and
 * per-instance load max/mean (from each answer's X-Instance header). The load generator runs in this process,
 * on the same machine: every target pays for it equally.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom, ZipfSampler } from '@concord/hashring';
import { freePort, type ProcessHandle, startProcess, stopAll } from '@concord/infra';
import { Pool } from 'undici';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIXTURE = path.join(ROOT, 'test/gateway/fixtures/upstream.ts');
const UPSTREAMS = 10;
const CONNECTIONS = [16, 64, 256];
const RUN_MS = 2_500;
const WARMUP_MS = 500;
const WARMUP_ALL_MS = 3_000;
const KEY_COUNT = 10_000;
const CLOCK_TICKS_PER_SECOND = 100;

type KeyMode = 'uniform' | 'zipf';

interface Target {
  readonly name: string;
  readonly url: string;
  readonly path: string;
  /** Processes whose CPU time is the proxy's (none for the direct call). */
  readonly pids: () => number[];
}

interface Result {
  readonly target: string;
  readonly connections: number;
  readonly keys: KeyMode;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly cpuSecondsPer1k: number | undefined;
  readonly maxOverMean: number | undefined;
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function descendants(pid: number): number[] {
  const result = [pid];
  try {
    for (const task of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)) {
      if (task !== '') result.push(...descendants(Number(task)));
    }
  } catch {
    // The process is gone or has no children file: only itself.
  }
  return result;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function run(
  target: Target,
  connections: number,
  mode: KeyMode,
  seed: number,
  runMs = RUN_MS,
): Promise<Result> {
  const pool = new Pool(target.url, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const random = seededRandom(seed);
  const zipf = new ZipfSampler(KEY_COUNT, 1.1, random);
  const keyOf = (): string => `key-${mode === 'zipf' ? zipf.next() : Math.floor(random() * KEY_COUNT)}`;
  const latencies: number[] = [];
  const perInstance = new Map<string, number>();
  let errors = 0;
  let measuring = false;
  let running = true;
  const worker = async (): Promise<void> => {
    while (running) {
      const startedMs = performance.now();
      try {
        const answer = await pool.request({
          path: target.path,
          method: 'GET',
          headers: { 'x-hash-key': keyOf() },
        });
        await answer.body.dump();
        if (!measuring) continue;
        if (answer.statusCode !== 200) {
          errors++;
          continue;
        }
        latencies.push(performance.now() - startedMs);
        const instance = answer.headers['x-instance'];
        if (typeof instance === 'string') perInstance.set(instance, (perInstance.get(instance) ?? 0) + 1);
      } catch {
        if (measuring) errors++;
      }
    }
  };
  const workers = Array.from({ length: connections }, () => worker());
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
  const pids = target.pids().flatMap(descendants);
  const ticksBefore = pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  measuring = true;
  const startedMs = performance.now();
  await new Promise((resolve) => setTimeout(resolve, runMs));
  measuring = false;
  const elapsedMs = performance.now() - startedMs;
  const ticksAfter = pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  running = false;
  await Promise.all(workers);
  await pool.close();
  const sorted = Float64Array.from(latencies).sort();
  const counts = [...perInstance.values()];
  const mean = counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length);
  return {
    target: target.name,
    connections,
    keys: mode,
    rps: (latencies.length / elapsedMs) * 1000,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    errors,
    cpuSecondsPer1k:
      pids.length === 0
        ? undefined
        : ((ticksAfter - ticksBefore) / CLOCK_TICKS_PER_SECOND / latencies.length) * 1000,
    maxOverMean: counts.length > 1 ? Math.max(...counts) / mean : undefined,
  };
}

function nginxConfig(prefix: string, port: number, upstreamPorts: readonly number[]): string {
  return `
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  upstream backends {
    hash $http_x_hash_key consistent;
${upstreamPorts.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location /api/orders/ {
      proxy_pass http://backends/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

function findNginx(): string | undefined {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

const fmt = (value: number | undefined, digits = 1): string =>
  value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits);

async function main(): Promise<void> {
  const gatewayMain = path.join(ROOT, 'dist/apps/gateway/src/main.js');
  if (!existsSync(gatewayMain))
    throw new Error('dist/apps/gateway/src/main.js is missing: run npm run build first');
  const processes: ProcessHandle[] = [];
  const upstreamPorts: number[] = [];
  for (let i = 0; i < UPSTREAMS; i++) upstreamPorts.push(await freePort());
  processes.push(
    ...(await Promise.all(
      upstreamPorts.map((port, i) =>
        startProcess({
          name: `upstream-${i + 1}`,
          command: process.execPath,
          args: ['--import', 'tsx', FIXTURE, `upstream-${i + 1}`, String(port)],
          cwd: ROOT,
          ready: { url: `http://127.0.0.1:${port}/health`, timeoutMs: 30_000 },
        }),
      ),
    )),
  );
  const gatewayPort = await freePort();
  const gateway = await startProcess({
    name: 'gateway',
    command: process.execPath,
    args: [gatewayMain],
    cwd: ROOT,
    env: {
      PORT: String(gatewayPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      ADMIN_TOKEN: 'bench-admin-token-0123456789',
      STATIC_UPSTREAMS: `orders=${upstreamPorts.map((p, i) => `upstream-${i + 1}@http://127.0.0.1:${p}`).join(',')}`,
      ROUTES: JSON.stringify([{ prefix: '/api/orders', service: 'orders', public: true }]),
      HEALTH_PATH: '/health',
    },
    ready: { url: `http://127.0.0.1:${gatewayPort}/health/ready`, timeoutMs: 30_000 },
  });
  processes.push(gateway);

  const targets: Target[] = [
    { name: 'direct', url: `http://127.0.0.1:${upstreamPorts[0]}`, path: '/fast', pids: () => [] },
    {
      name: 'gateway',
      url: `http://127.0.0.1:${gatewayPort}`,
      path: '/api/orders/fast',
      pids: () => [gateway.pid],
    },
  ];
  const nginxBinary = findNginx();
  let nginxPrefix: string | undefined;
  if (nginxBinary) {
    nginxPrefix = mkdtempSync(path.join(tmpdir(), 'bench-nginx-'));
    const nginxPort = await freePort();
    writeFileSync(path.join(nginxPrefix, 'nginx.conf'), nginxConfig(nginxPrefix, nginxPort, upstreamPorts));
    const nginx = await startProcess({
      name: 'nginx',
      command: nginxBinary,
      args: ['-p', nginxPrefix, '-c', path.join(nginxPrefix, 'nginx.conf'), '-e', 'stderr'],
      stopSignal: 'SIGQUIT',
      ready: { url: `http://127.0.0.1:${nginxPort}/api/orders/health`, timeoutMs: 10_000 },
    });
    processes.push(nginx);
    targets.push({
      name: 'nginx',
      url: `http://127.0.0.1:${nginxPort}`,
      path: '/api/orders/fast',
      pids: () => [nginx.pid],
    });
  } else {
    process.stdout.write('nginx not found: comparing with the direct call only\n');
  }

  const results: Result[] = [];
  try {
    // Warm every target once (JIT, connection pools, breakers created on first use) before any measurement.
    for (const target of targets) await run(target, 64, 'uniform', 1_000, WARMUP_ALL_MS);
    let seed = 1;
    for (const mode of ['uniform', 'zipf'] as const) {
      for (const connections of CONNECTIONS) {
        for (const target of targets) {
          const result = await run(target, connections, mode, seed++);
          results.push(result);
          process.stderr.write(`${target.name} c=${connections} ${mode}: ${result.rps.toFixed(0)} req/s\n`);
        }
      }
    }
  } finally {
    for (const p of processes.reverse()) await p.stop(5_000).catch(() => undefined);
    if (nginxPrefix) rmSync(nginxPrefix, { recursive: true, force: true });
    await stopAll();
  }

  const lines = [
    '| keys | conns | target | req/s | p50 ms | p99 ms | errors | CPU s / 1k req | load max/mean | rps vs direct | rps vs nginx | p99 vs nginx | CPU vs nginx |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const direct = results.find(
      (d) => d.target === 'direct' && d.connections === r.connections && d.keys === r.keys,
    );
    const nginx = results.find(
      (d) => d.target === 'nginx' && d.connections === r.connections && d.keys === r.keys,
    );
    const ratio = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)}×`;
    lines.push(
      `| ${r.keys} | ${r.connections} | ${r.target} | ${fmt(r.rps, 0)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${r.errors} | ${fmt(r.cpuSecondsPer1k, 3)} | ${fmt(r.maxOverMean, 2)} | ${ratio(r.rps, direct?.rps)} | ${ratio(r.rps, nginx?.rps)} | ${ratio(r.p99Ms, nginx?.p99Ms)} | ${ratio(r.cpuSecondsPer1k, nginx?.cpuSecondsPer1k)} |`,
    );
  }
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

await main();
