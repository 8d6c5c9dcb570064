/**
 * The gateway against nginx and the plain http-proxy recipe, doing the same work in the same run:
 *
 *   npm run bench:gateway [-- --duration 10 --repeats 3 --warmup 3 --connections 16,64,256
 *                            --proxies concord,nginx,http-proxy --json]
 *
 * Upstreams: one nginx process (1 worker) with 10 listeners, each `return 200 <id>` (trivial and cheap).
 * Load: `wrk` (2 threads) with scripts/bench-gateway/random-key.lua: every request carries a random
 * `X-Hash-Key` out of 10,000 keys and the same bearer JWT.
 * Proxies:
 * - concord: the built gateway with every feature on as a user runs it: JWT (HS256) required on the route,
 *   rate limiting on (limits far above the offered load), per-instance breakers, retries and retry budget,
 *   active health checks, metrics, the default log level, an internal EdDSA token minted per identity.
 * - nginx: 1 worker, `hash $http_x_hash_key consistent`, keepalive large enough that it never churns.
 * - http-proxy: node:http + the http-proxy package + the hashring package (the recipe found in tutorials).
 * - node-floor (only with --proxies): node:http + undici Pool + the ring, no features: the floor for a Node
 *   proxy on this machine (scripts/bench-gateway/bare-proxy.ts), to tell Node's cost from the gateway's.
 * - concord-traced (only with --proxies): the same gateway with tracing on, as OTEL_* variables turn it on
 *   (OTLP/HTTP JSON to a sink, every request sampled unless the shell sets OTEL_TRACES_SAMPLER): the cost of tracing,
 *   against `concord` in the same run (tracing off). The sink is an nginx listener that answers 200 and logs
 *   each export, so the report says how many exports arrived.
 * Cells (proxy x connections) run interleaved: every repeat visits every connection count and, within it,
 * every proxy (rotating which goes first); medians over repeats. CPU per request is the proxy's processes'
 * user+system time from /proc (all workers and children) divided by the requests wrk completed.
 * With --json the last line is the machine-readable summary (see the issue's contract).
 * Defaults are the issue's (10 s cells, 3 repeats): run them on an idle machine. For a quick look:
 *   npm run bench:gateway -- --duration 2 --repeats 1 --warmup 1
 * To see where the gateway's time goes: --proxies concord --profile /tmp/prof (a .cpuprofile per run;
 * scripts/bench-gateway/profile-summary.ts prints the top functions by self time).
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, type ProcessHandle, startProcess, stopAll } from '@concord/infra';
import { SignJWT } from 'jose';
import { handleHelp } from './cli-help.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LUA_SCRIPT = path.join(ROOT, 'scripts/bench-gateway/random-key.lua');
const HTTP_PROXY_RECIPE = path.join(ROOT, 'scripts/bench-gateway/http-proxy-recipe.ts');
const UPSTREAMS = 10;
const CLOCK_TICKS_PER_SECOND = 100;
const JWT_SECRET = 'bench-gateway-jwt-secret-0123456789abcdef';
const PROXIES = ['concord', 'nginx', 'http-proxy', 'node-floor', 'concord-traced'] as const;
/** The issue's three; node-floor (a bare node:http + undici proxy, no features) only when asked for. */
const DEFAULT_PROXIES = ['concord', 'nginx', 'http-proxy'] as const;
const BARE_PROXY = path.join(ROOT, 'scripts/bench-gateway/bare-proxy.ts');
type ProxyName = (typeof PROXIES)[number];

handleHelp(import.meta.filename, process.argv.slice(2), [
  'duration',
  'repeats',
  'warmup',
  'connections',
  'proxies',
  'threads',
  'json',
  'profile',
]);
const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    repeats: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16,64,256' },
    proxies: { type: 'string', default: DEFAULT_PROXIES.join(',') },
    threads: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    /** Write a V8 CPU profile of the gateway (node --cpu-prof) into this directory. */
    profile: { type: 'string' },
  },
});
const durationS = positive('duration', args.duration);
const repeats = positive('repeats', args.repeats);
const warmupS = positive('warmup', args.warmup);
const threads = positive('threads', args.threads);
const connectionCounts = args.connections.split(',').map((c) => positive('connections', c));
const proxies = args.proxies.split(',').map((name) => {
  if (!(PROXIES as readonly string[]).includes(name)) fail(`--proxies: unknown proxy "${name}"`);
  return name as ProxyName;
});

function positive(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) fail(`--${name} must be a positive integer, got "${raw}"`);
  return value;
}

function fail(message: string): never {
  process.stderr.write(`bench:gateway: ${message}\n`);
  process.exit(2);
}

interface Target {
  readonly proxy: ProxyName;
  readonly url: string;
  /** Processes whose CPU time counts as the proxy's (children included at measurement time). */
  readonly pids: () => number[];
}

interface Cell {
  readonly proxy: ProxyName;
  readonly connections: number;
  readonly reqPerSec: number;
  readonly p99Ms: number;
  readonly cpuUsPerReq: number;
  readonly non2xx: number;
  readonly socketErrors: number;
}

interface WrkSummary {
  requests: number;
  durationUs: number;
  p50Us: number;
  p99Us: number;
  non2xx: number;
  connect: number;
  read: number;
  write: number;
  timeout: number;
}

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime (fields 14 and 15 of proc(5)); children's are counted by walking the tree.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function descendants(pid: number): number[] {
  const result = [pid];
  try {
    for (const tid of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)) {
      if (tid !== '') result.push(...descendants(Number(tid)));
    }
  } catch {
    // Gone, or no children file: only itself.
  }
  return result;
}

function wrk(url: string, connections: number, seconds: number): Promise<WrkSummary> {
  return new Promise((resolve, reject) => {
    execFile(
      'wrk',
      [
        `-t${Math.min(threads, connections)}`,
        `-c${connections}`,
        `-d${seconds}s`,
        '--timeout',
        '5s',
        '-s',
        LUA_SCRIPT,
        `${url}/api/orders/fast`,
      ],
      { env: { ...process.env, BENCH_TOKEN: benchToken }, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`wrk failed: ${error.message}\n${stderr}`));
          return;
        }
        const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
        if (!line) {
          reject(new Error(`wrk printed no summary:\n${stdout}\n${stderr}`));
          return;
        }
        resolve(JSON.parse(line.slice('WRK_JSON '.length)) as WrkSummary);
      },
    );
  });
}

async function measure(target: Target, connections: number): Promise<Cell> {
  // A short unmeasured run first: connections opened, pools and JIT warm at this concurrency.
  await wrk(target.url, connections, Math.min(warmupS, 2));
  const pids = target.pids().flatMap(descendants);
  const before = pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  const summary = await wrk(target.url, connections, durationS);
  const after = pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  const cpuUs = ((after - before) / CLOCK_TICKS_PER_SECOND) * 1e6;
  return {
    proxy: target.proxy,
    connections,
    reqPerSec: summary.requests / (summary.durationUs / 1e6),
    p99Ms: summary.p99Us / 1000,
    cpuUsPerReq: summary.requests > 0 ? cpuUs / summary.requests : Number.NaN,
    // Requests not answered 2xx: statuses >= 400 and those lost on the socket.
    non2xx: summary.non2xx + summary.connect + summary.read + summary.write + summary.timeout,
    socketErrors: summary.connect + summary.read + summary.write + summary.timeout,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const NGINX_TEMP = (prefix: string): string => `
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;`;

function upstreamsConfig(prefix: string, ports: readonly number[], sinkPort: number): string {
  const servers = ports.map(
    (port, i) => `
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location / { add_header X-Instance upstream-${i + 1}; return 200 "upstream-${i + 1}"; }
  }`,
  );
  return `worker_processes 1;
daemon off;
pid ${prefix}/upstreams.pid;
error_log stderr warn;
events { worker_connections 8192; }
http {
  access_log off;${NGINX_TEMP(prefix)}
${servers.join('\n')}
  server {
    listen 127.0.0.1:${sinkPort};
    location /v1/traces { access_log ${prefix}/otlp-exports.log; return 200; }
  }
}
`;
}

function nginxProxyConfig(prefix: string, port: number, upstreamPorts: readonly number[]): string {
  // keepalive is the idle connections one worker caches across all servers of the block: above the largest
  // concurrency, so that nginx never closes and reopens upstream connections (a fair comparison with pools).
  return `worker_processes 1;
daemon off;
pid ${prefix}/proxy.pid;
error_log stderr warn;
events { worker_connections 8192; }
http {
  access_log off;${NGINX_TEMP(prefix)}
  upstream backends {
    hash $http_x_hash_key consistent;
${upstreamPorts.map((p) => `    server 127.0.0.1:${p};`).join('\n')}
    keepalive 1024;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    location /api/orders/ {
      proxy_pass http://backends/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

function findBinary(candidates: readonly string[]): string | undefined {
  return candidates.find((candidate) => existsSync(candidate));
}

let benchToken = '';

async function main(): Promise<void> {
  const nginxBinary = findBinary(['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']);
  if (!nginxBinary) fail('nginx not found (Debian: apt-get install nginx-light)');
  if (!findBinary(['/usr/bin/wrk', '/usr/local/bin/wrk']))
    fail('wrk not found (Debian: apt-get install wrk)');
  const gatewayMain = path.join(ROOT, 'dist/apps/gateway/src/main.js');
  if ((proxies.includes('concord') || proxies.includes('concord-traced')) && !existsSync(gatewayMain))
    fail(`${gatewayMain} is missing: npm run build`);

  const now = Math.floor(Date.now() / 1000);
  benchToken = await new SignJWT({ scope: 'orders' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('bench')
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode(JWT_SECRET));

  const prefix = mkdtempSync(path.join(tmpdir(), 'bench-gateway-'));
  for (const dir of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(prefix, dir));
  const processes: ProcessHandle[] = [];
  const targets: Target[] = [];
  try {
    const upstreamPorts: number[] = [];
    for (let i = 0; i < UPSTREAMS; i++) upstreamPorts.push(await freePort());
    const sinkPort = await freePort();
    writeFileSync(path.join(prefix, 'upstreams.conf'), upstreamsConfig(prefix, upstreamPorts, sinkPort));
    processes.push(
      await startProcess({
        name: 'upstreams',
        command: nginxBinary,
        args: ['-p', prefix, '-c', path.join(prefix, 'upstreams.conf'), '-e', 'stderr'],
        stopSignal: 'SIGQUIT',
        ready: { url: `http://127.0.0.1:${upstreamPorts[0]}/health`, timeoutMs: 10_000 },
      }),
    );

    const startGateway = async (name: 'concord' | 'concord-traced'): Promise<void> => {
      const port = await freePort();
      const { privateKey } = generateKeyPairSync('ed25519');
      const gateway = await startProcess({
        name,
        command: process.execPath,
        args: [
          ...(args.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', path.resolve(args.profile)]),
          gatewayMain,
        ],
        cwd: ROOT,
        env: {
          PORT: String(port),
          HOST: '127.0.0.1',
          // The default log level: whatever LOG_LEVEL says in this shell does not leak in.
          LOG_LEVEL: undefined,
          NODE_ENV: 'production',
          ADMIN_TOKEN: 'bench-admin-token-0123456789',
          JWT_SECRET,
          INTERNAL_TOKEN_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
          STATIC_UPSTREAMS: `orders=${upstreamPorts.map((p, i) => `upstream-${i + 1}@http://127.0.0.1:${p}`).join(',')}`,
          ROUTES: JSON.stringify([{ prefix: '/api/orders', service: 'orders', scopes: ['orders'] }]),
          // Per client (the token's subject): far above what wrk offers, so every request pays the check.
          RATE_LIMIT_PER_SECOND: '10000000',
          RATE_LIMIT_BURST: '10000000',
          HEALTH_PATH: '/health',
          // Tracing as the shell's OTEL_* variables decide for `concord` (off unless set); on for the traced one.
          ...(name === 'concord-traced'
            ? {
                OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`,
                OTEL_SERVICE_NAME: 'gateway',
              }
            : {}),
        },
        ready: { url: `http://127.0.0.1:${port}/health/ready`, timeoutMs: 30_000 },
      });
      processes.push(gateway);
      targets.push({ proxy: name, url: `http://127.0.0.1:${port}`, pids: () => [gateway.pid] });
    };
    if (proxies.includes('concord')) await startGateway('concord');
    if (proxies.includes('concord-traced')) await startGateway('concord-traced');
    if (proxies.includes('nginx')) {
      const port = await freePort();
      writeFileSync(path.join(prefix, 'proxy.conf'), nginxProxyConfig(prefix, port, upstreamPorts));
      const nginx = await startProcess({
        name: 'nginx',
        command: nginxBinary,
        args: ['-p', prefix, '-c', path.join(prefix, 'proxy.conf'), '-e', 'stderr'],
        stopSignal: 'SIGQUIT',
        ready: { url: `http://127.0.0.1:${port}/api/orders/health`, timeoutMs: 10_000 },
      });
      processes.push(nginx);
      // The master and its one worker.
      targets.push({ proxy: 'nginx', url: `http://127.0.0.1:${port}`, pids: () => [nginx.pid] });
    }
    if (proxies.includes('http-proxy')) {
      const port = await freePort();
      const recipe = await startProcess({
        name: 'http-proxy',
        command: process.execPath,
        args: ['--import', 'tsx', HTTP_PROXY_RECIPE, String(port), ...upstreamPorts.map(String)],
        cwd: ROOT,
        env: { NODE_ENV: 'production' },
        ready: { url: `http://127.0.0.1:${port}/api/orders/health`, timeoutMs: 30_000 },
      });
      processes.push(recipe);
      targets.push({ proxy: 'http-proxy', url: `http://127.0.0.1:${port}`, pids: () => [recipe.pid] });
    }

    if (proxies.includes('node-floor')) {
      const port = await freePort();
      const bare = await startProcess({
        name: 'node-floor',
        command: process.execPath,
        args: [
          ...(args.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', path.resolve(args.profile)]),
          '--import',
          'tsx',
          BARE_PROXY,
          String(port),
          ...upstreamPorts.map(String),
        ],
        cwd: ROOT,
        env: { NODE_ENV: 'production' },
        ready: { url: `http://127.0.0.1:${port}/api/orders/health`, timeoutMs: 30_000 },
      });
      processes.push(bare);
      targets.push({ proxy: 'node-floor', url: `http://127.0.0.1:${port}`, pids: () => [bare.pid] });
    }

    for (const target of targets) {
      await wrk(target.url, 64, warmupS);
      progress(`warmed ${target.proxy}`);
    }
    const cells: Cell[] = [];
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const [c, connections] of connectionCounts.entries()) {
        // Rotate who goes first, so that no proxy always runs right after the same neighbour.
        const shift = (repeat + c) % targets.length;
        for (const target of [...targets.slice(shift), ...targets.slice(0, shift)]) {
          const cell = await measure(target, connections);
          cells.push(cell);
          progress(
            `repeat ${repeat + 1}/${repeats} c=${connections} ${cell.proxy}: ${cell.reqPerSec.toFixed(0)} req/s, ` +
              `p99 ${cell.p99Ms.toFixed(2)} ms, ${cell.cpuUsPerReq.toFixed(1)} µs CPU/req, non-2xx ${cell.non2xx}`,
          );
        }
      }
    }
    // What the gateway did besides proxying (stderr, before the report so that the --json line stays last):
    // retries, breaker changes or refusals would mean some requests cost more than one upstream exchange.
    for (const target of targets.filter((t) => t.proxy === 'concord' || t.proxy === 'concord-traced')) {
      const text = await (await fetch(`${target.url}/metrics`)).text();
      const lines = text
        .split('\n')
        .filter((l) => /^gateway_(retries|breaker_state|retry_budget|bounded_load|panic|rejected)/.test(l));
      progress(
        `${target.proxy} after the run: ${lines.length === 0 ? 'no retries, overflows, breaker changes or refusals' : ''}`,
      );
      for (const line of lines) progress(`  ${line}`);
    }
    if (proxies.includes('concord-traced')) {
      const exportsLog = path.join(prefix, 'otlp-exports.log');
      const exports = existsSync(exportsLog)
        ? readFileSync(exportsLog, 'utf8').split('\n').filter(Boolean)
        : [];
      progress(`concord-traced exported ${exports.length} OTLP batches to the sink`);
      if (exports.length === 0) throw new Error('concord-traced exported nothing: tracing did not turn on');
    }
    report(cells);
  } finally {
    for (const p of processes.reverse()) await p.stop(5_000).catch(() => undefined);
    await stopAll();
    rmSync(prefix, { recursive: true, force: true });
  }
}

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

function report(cells: readonly Cell[]): void {
  const rows = connectionCounts.flatMap((connections) =>
    proxies.map((proxy) => {
      const mine = cells.filter((c) => c.proxy === proxy && c.connections === connections);
      return {
        proxy,
        connections,
        reqPerSec: Math.round(median(mine.map((c) => c.reqPerSec))),
        p99Ms: round(median(mine.map((c) => c.p99Ms)), 2),
        cpuUsPerReq: round(median(mine.map((c) => c.cpuUsPerReq)), 1),
        non2xx: mine.reduce((sum, c) => sum + c.non2xx, 0),
        socketErrors: mine.reduce((sum, c) => sum + c.socketErrors, 0),
      };
    }),
  );
  const find = (proxy: ProxyName, connections: number) =>
    rows.find((r) => r.proxy === proxy && r.connections === connections);
  const ratio = (a: number | undefined, b: number | undefined): number =>
    a === undefined || b === undefined || b === 0 ? 0 : round(a / b, 2);
  const ratios: Record<string, number> = {};
  for (const connections of [16, 64, 256]) {
    ratios[`cpuVsNginx@${connections}`] = ratio(
      find('nginx', connections)?.cpuUsPerReq,
      find('concord', connections)?.cpuUsPerReq,
    );
  }
  if (proxies.includes('concord-traced'))
    for (const connections of [16, 64, 256])
      ratios[`tracedCpu@${connections}`] = ratio(
        find('concord-traced', connections)?.cpuUsPerReq,
        find('concord', connections)?.cpuUsPerReq,
      );
  ratios['throughputVsHttpProxy@64'] = ratio(
    find('concord', 64)?.reqPerSec,
    find('http-proxy', 64)?.reqPerSec,
  );

  const lines = [
    `Medians of ${repeats} repeat(s), ${durationS} s cells, wrk -t${threads}, 10 upstreams, 10,000 keys.`,
    '',
    '| proxy | conns | req/s | p99 ms | CPU µs/req | non-2xx | socket errors | CPU vs nginx | p99 vs nginx |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const nginx = find('nginx', r.connections);
    lines.push(
      `| ${r.proxy} | ${r.connections} | ${r.reqPerSec} | ${r.p99Ms.toFixed(2)} | ${r.cpuUsPerReq.toFixed(1)} | ${r.non2xx} | ${r.socketErrors} | ` +
        `${nginx ? (r.cpuUsPerReq / nginx.cpuUsPerReq).toFixed(2) : '–'}× | ${nginx ? (r.p99Ms / nginx.p99Ms).toFixed(2) : '–'}× |`,
    );
  }
  lines.push('', `Ratios: ${JSON.stringify(ratios)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (args.json) {
    const json = {
      rows: rows.map(({ proxy, connections, reqPerSec, p99Ms, cpuUsPerReq, non2xx }) => ({
        proxy,
        connections,
        reqPerSec,
        p99Ms,
        cpuUsPerReq,
        non2xx,
      })),
      ratios,
    };
    process.stdout.write(`${JSON.stringify(json)}\n`);
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

await main();
