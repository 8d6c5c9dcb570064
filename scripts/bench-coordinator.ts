/**
 * `npm run bench:coordinator`: the coordinator's REST API against a 3-node cluster of real processes (built
 * dist/, disk WAL with fsync, TCP between peers), and, when `etcd` is installed (Debian: etcd-server), the same
 * load against a 3-node etcd cluster on loopback through its JSON gateway, in the same run, as a ratio.
 *
 * Load: puts of 8-byte keys over a key space of 10,000 with 256-byte values, and linearizable gets, at client
 * concurrency 1, 64 and 256 (closed loop; clients spread over the three nodes; keep-alive connections).
 * Options: --seconds N (per cell, default 3), --quick (1 s cells).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, ProcessGroup, waitFor } from '@concord/infra';
import { Pool } from 'undici';

const ROOT = path.resolve(import.meta.dirname, '..');
const CONCURRENCIES = [1, 64, 256];
const KEY_SPACE = 10_000;
const VALUE = 'v'.repeat(256);
const argSeconds = process.argv.indexOf('--seconds');
const CELL_MS = process.argv.includes('--quick')
  ? 1_000
  : Number(argSeconds > 0 ? process.argv[argSeconds + 1] : 3) * 1000;
const WARMUP_MS = 300;
const TOKEN = randomBytes(16).toString('hex');

interface Target {
  readonly name: string;
  put(pool: Pool, key: string): Promise<void>;
  get(pool: Pool, key: string): Promise<void>;
  readonly urls: string[];
}

interface Cell {
  system: string;
  op: 'put' | 'get';
  concurrency: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

const key8 = (i: number) => `k${String(i % KEY_SPACE).padStart(7, '0')}`;

async function expectOk(response: Awaited<ReturnType<Pool['request']>>): Promise<void> {
  const body = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${response.statusCode}: ${body.slice(0, 200)}`);
}

const concord = (urls: string[]): Target => ({
  name: 'concord',
  urls,
  put: async (pool, key) =>
    expectOk(
      await pool.request({
        method: 'PUT',
        path: `/v1/kv/${key}`,
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ value: VALUE }),
      }),
    ),
  get: async (pool, key) => {
    const response = await pool.request({
      method: 'GET',
      path: `/v1/kv/${key}`,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await response.body.text();
    if (response.statusCode >= 300 && response.statusCode !== 404)
      throw new Error(String(response.statusCode));
  },
});

const b64 = (s: string) => Buffer.from(s).toString('base64');
const etcd = (urls: string[]): Target => ({
  name: 'etcd',
  urls,
  put: async (pool, key) =>
    expectOk(
      await pool.request({
        method: 'POST',
        path: '/v3/kv/put',
        body: JSON.stringify({ key: b64(key), value: b64(VALUE) }),
      }),
    ),
  get: async (pool, key) =>
    expectOk(
      await pool.request({ method: 'POST', path: '/v3/kv/range', body: JSON.stringify({ key: b64(key) }) }),
    ),
});

async function runCell(target: Target, op: 'put' | 'get', concurrency: number): Promise<Cell> {
  const pools = target.urls.map(
    (u) => new Pool(u, { connections: Math.ceil(concurrency / target.urls.length) + 1, pipelining: 1 }),
  );
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const client = async (id: number) => {
    const pool = pools[id % pools.length]!;
    for (let i = id; !stop; i += concurrency) {
      const started = performance.now();
      try {
        await (op === 'put' ? target.put(pool, key8(i * 7919)) : target.get(pool, key8(i * 7919)));
        if (measuring) latencies.push(performance.now() - started);
      } catch {
        if (measuring) errors += 1;
      }
    }
  };
  const clients = Array.from({ length: concurrency }, (_, i) => client(i));
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, CELL_MS));
  measuring = false;
  const elapsed = performance.now() - t0;
  stop = true;
  await Promise.all(clients);
  await Promise.all(pools.map((p) => p.close()));
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
  return {
    system: target.name,
    op,
    concurrency,
    rps: (latencies.length * 1000) / elapsed,
    p50: q(0.5),
    p99: q(0.99),
    errors,
  };
}

async function startConcord(group: ProcessGroup): Promise<string[]> {
  const specs = await Promise.all(
    ['n1', 'n2', 'n3'].map(async (id) => ({
      id,
      port: await freePort(),
      peer: await freePort(),
      dir: await mkdtemp(path.join(os.tmpdir(), `bench-coord-${id}-`)),
    })),
  );
  const peers = specs.map((s) => `${s.id}=127.0.0.1:${s.peer}`).join(',');
  const apis = specs.map((s) => `${s.id}=http://127.0.0.1:${s.port}`).join(',');
  await Promise.all(
    specs.map((s) =>
      group.start({
        name: `coordinator-${s.id}`,
        command: process.execPath,
        args: [path.join(ROOT, 'dist/apps/coordinator/src/main.js')],
        env: {
          PORT: String(s.port),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'warn',
          NODE_ID: s.id,
          PEER_PORT: String(s.peer),
          PEERS: peers,
          API_URLS: apis,
          DATA_DIR: s.dir,
          CLUSTER_SECRET: TOKEN,
          CLIENT_TOKEN: TOKEN,
        },
        ready: { url: `http://127.0.0.1:${s.port}/health/ready`, timeoutMs: 60_000 },
      }),
    ),
  );
  return specs.map((s) => `http://127.0.0.1:${s.port}`);
}

function findEtcd(): string | undefined {
  return ['/usr/bin/etcd', '/usr/local/bin/etcd', '/usr/sbin/etcd'].find((p) => existsSync(p));
}

async function startEtcd(
  binary: string,
  dirs: string[],
): Promise<{ urls: string[]; children: ChildProcess[] }> {
  const specs = await Promise.all(
    ['e1', 'e2', 'e3'].map(async (name) => ({ name, client: await freePort(), peer: await freePort() })),
  );
  const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',');
  const children = await Promise.all(
    specs.map(async (s) => {
      const dir = await mkdtemp(path.join(os.tmpdir(), `bench-etcd-${s.name}-`));
      dirs.push(dir);
      return spawn(
        binary,
        [
          `--name=${s.name}`,
          `--data-dir=${dir}`,
          `--listen-client-urls=http://127.0.0.1:${s.client}`,
          `--advertise-client-urls=http://127.0.0.1:${s.client}`,
          `--listen-peer-urls=http://127.0.0.1:${s.peer}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${s.peer}`,
          `--initial-cluster=${initial}`,
          '--initial-cluster-state=new',
          '--log-level=error',
        ],
        { stdio: 'ignore' },
      );
    }),
  );
  const urls = specs.map((s) => `http://127.0.0.1:${s.client}`);
  await waitFor(
    async () => {
      for (const u of urls) {
        const r = await fetch(`${u}/v3/kv/put`, {
          method: 'POST',
          body: JSON.stringify({ key: b64('probe'), value: b64('1') }),
        }).catch(() => undefined);
        if (r?.ok !== true) return false;
      }
      return true;
    },
    { timeoutMs: 30_000, description: 'etcd cluster ready' },
  );
  return { urls, children };
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

async function main(): Promise<void> {
  const group = new ProcessGroup(() => undefined);
  const results: Cell[] = [];
  try {
    let urls: string[] | undefined;
    for (let attempt = 1; urls === undefined; attempt++) {
      // A port that was free a moment ago may be taken by then: try again on new ones.
      urls = await startConcord(group).catch(async (error: unknown) => {
        if (attempt >= 3) throw error;
        await group.stopAll();
        return undefined;
      });
    }
    const targets: Target[] = [concord(urls)];
    const etcdBinary = findEtcd();
    const etcdDirs: string[] = [];
    let etcdChildren: ChildProcess[] = [];
    if (etcdBinary !== undefined) {
      const started = await startEtcd(etcdBinary, etcdDirs);
      etcdChildren = started.children;
      targets.push(etcd(started.urls));
    }
    for (const target of targets) {
      for (const op of ['put', 'get'] as const) {
        for (const concurrency of CONCURRENCIES) {
          const cell = await runCell(target, op, concurrency);
          results.push(cell);
          process.stderr.write(`${cell.system} ${op} c=${concurrency}: ${fmt(cell.rps, 0)} req/s\n`);
        }
      }
    }
    for (const child of etcdChildren) child.kill('SIGKILL');
    await Promise.all(etcdDirs.map((d) => rm(d, { recursive: true, force: true })));
    if (etcdBinary === undefined)
      process.stderr.write('etcd not installed (apt-get install etcd-server): no comparison\n');
  } finally {
    await group.stopAll();
  }
  const lines = [
    `Coordinator benchmark: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${CELL_MS / 1000} s per cell`,
    '',
    '| op | clients | concord req/s | p50 ms | p99 ms | errors | etcd req/s | etcd p50 | etcd p99 | concord/etcd |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results.filter((c) => c.system === 'concord')) {
    const e = results.find((c) => c.system === 'etcd' && c.op === r.op && c.concurrency === r.concurrency);
    lines.push(
      `| ${r.op} | ${r.concurrency} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.errors} | ${e ? fmt(e.rps, 0) : '-'} | ${e ? fmt(e.p50, 2) : '-'} | ${e ? fmt(e.p99, 2) : '-'} | ${e ? fmt(r.rps / e.rps, 2) : '-'} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
