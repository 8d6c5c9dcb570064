/**
 * `npm run bench:coordinator`: Concord's coordinator (3 real processes from dist/, disk WAL with fsync, TCP between
 * peers) against a 3-member etcd (Debian: etcd-server) on the same machine, in the same run, doing the same work
 * through the same closed-loop client.
 *
 * Fairness (issue 12): every cell has a warm-up (default 3 s) and a measured part (default 10 s); cells alternate
 * between the two systems (and which one goes first alternates per repeat); every cell runs `--repeats` times
 * (default 3) and the table shows medians. 1-client cells run twice per system: pinned to the leader and pinned
 * to a follower (found before each cell); 64- and 256-client cells spread clients over all three members.
 * Failed requests are counted, never dropped. CPU per request comes from /proc/<pid>/stat (utime + stime) of each
 * server process, read at the start and end of the measured part. A labelled `snapshots` variant runs put@64 on
 * fresh clusters whose snapshot and compaction thresholds are low enough to fire many times inside the cell.
 *
 * Load: puts of 8-byte keys over a key space of 10,000 with 256-byte values; linearizable gets of the same keys
 * (preloaded). Concord: `PUT/GET /v1/kv/{key}`; etcd: its JSON gateway `/v3/kv/put` and `/v3/kv/range`.
 *
 * Options (defaults match the issue; the short ones are for exploration only):
 *   --seconds N    measured part of a cell (10)       --warmup N   warm-up of a cell (3)
 *   --repeats N    repeats per cell (3)               --clients L  client counts, e.g. 1,64,256
 *   --ops L        put,get                            --no-snapshots  skip the snapshots variant
 *   --quick        2 s cells, 1 s warm-up, 1 repeat   --json       last line is the machine-readable result
 *   --cpu-prof DIR each Concord process writes a V8 CPU profile (node --cpu-prof) into DIR when it stops
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, ProcessGroup, waitFor } from '@concord/infra';
import { Pool } from 'undici';
import { handleHelp } from './cli-help.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
handleHelp(import.meta.filename, argv, [
  'clients',
  'cpu-prof',
  'json',
  'no-snapshots',
  'ops',
  'quick',
  'repeats',
  'seconds',
  'warmup',
]);
const flag = (name: string) => argv.includes(`--${name}`);
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const number = (name: string, fallback: number): number => {
  const raw = option(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not "${raw}"`);
  return n;
};

const QUICK = flag('quick');
const CELL_MS = number('seconds', QUICK ? 2 : 10) * 1000;
const WARMUP_MS = number('warmup', QUICK ? 1 : 3) * 1000;
const REPEATS = number('repeats', QUICK ? 1 : 3);
const CLIENTS = (option('clients') ?? '1,64,256').split(',').map(Number);
const OPS = (option('ops') ?? 'put,get').split(',') as Op[];
const SNAPSHOT_VARIANT = !flag('no-snapshots');
const JSON_OUT = flag('json');
/** Write a CPU profile (node --cpu-prof) of each Concord process into this directory when it stops. */
const PROFILE_DIR = option('cpu-prof');
const KEY_SPACE = 10_000;
const VALUE = 'v'.repeat(256);
const TOKEN = randomBytes(16).toString('hex');
const ADMIN_TOKEN = randomBytes(16).toString('hex');
const CLOCK_TICKS_PER_S = 100; // USER_HZ on Linux (getconf CLK_TCK)
/** Low thresholds of the `snapshots` variant: both systems snapshot every 2,000 entries and compact often. */
const SNAP_ENTRIES = 2_000;

type Op = 'put' | 'get';
type Where = 'leader' | 'follower' | 'spread';
type SystemName = 'concord' | 'etcd';
type Variant = 'default' | 'snapshots';

interface Member {
  readonly url: string;
  readonly pid: number;
}

interface System {
  readonly name: SystemName;
  readonly members: readonly Member[];
  put(pool: Pool, key: string): Promise<boolean>;
  get(pool: Pool, key: string): Promise<boolean>;
  /** Index into members of the current leader. */
  leader(): Promise<number>;
  stop(): Promise<void>;
}

interface Sample {
  readonly system: SystemName;
  readonly variant: Variant;
  readonly op: Op;
  readonly clients: number;
  readonly target: Where;
  readonly reqPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly cpuMsPerKReq: number;
  readonly cpuMsPerKReqByProcess: number[];
}

const key8 = (i: number) => `k${String(i % KEY_SPACE).padStart(7, '0')}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

async function ok(response: Awaited<ReturnType<Pool['request']>>): Promise<boolean> {
  await response.body.dump();
  return response.statusCode < 300;
}

function concordClient(members: Member[], group: ProcessGroup): System {
  return {
    name: 'concord',
    members,
    put: async (pool, key) =>
      ok(
        await pool.request({
          method: 'PUT',
          path: `/v1/kv/${key}`,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ value: VALUE }),
        }),
      ),
    get: async (pool, key) =>
      ok(
        await pool.request({
          method: 'GET',
          path: `/v1/kv/${key}`,
          headers: { authorization: `Bearer ${TOKEN}` },
        }),
      ),
    async leader() {
      for (const m of members) {
        const r = await fetch(`${m.url}/v1/cluster`, { headers: { authorization: `Bearer ${TOKEN}` } }).catch(
          () => undefined,
        );
        if (r?.ok !== true) continue;
        const view = (await r.json()) as { leader: string | null; members: { id: string; apiUrl: string }[] };
        const url = view.members.find((x) => x.id === view.leader)?.apiUrl;
        const i = members.findIndex((x) => x.url === url);
        if (i >= 0) return i;
      }
      throw new Error('concord has no leader');
    },
    stop: () => group.stopAll(),
  };
}

function etcdClient(members: Member[], children: ChildProcess[], dirs: string[]): System {
  return {
    name: 'etcd',
    members,
    put: async (pool, key) =>
      ok(
        await pool.request({
          method: 'POST',
          path: '/v3/kv/put',
          body: JSON.stringify({ key: b64(key), value: b64(VALUE) }),
        }),
      ),
    // The gateway's range is linearizable unless `serializable: true`: the same guarantee as Concord's default.
    get: async (pool, key) =>
      ok(
        await pool.request({ method: 'POST', path: '/v3/kv/range', body: JSON.stringify({ key: b64(key) }) }),
      ),
    async leader() {
      for (const [i, m] of members.entries()) {
        const r = await fetch(`${m.url}/v3/maintenance/status`, { method: 'POST', body: '{}' }).catch(
          () => undefined,
        );
        if (r?.ok !== true) continue;
        const s = (await r.json()) as { header: { member_id: string }; leader: string };
        if (s.header.member_id === s.leader) return i;
      }
      throw new Error('etcd has no leader');
    },
    async stop() {
      for (const child of children) child.kill('SIGKILL');
      await Promise.all(
        children.map((c) =>
          c.exitCode === null ? new Promise<void>((r) => c.once('exit', () => r())) : Promise.resolve(),
        ),
      );
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

/** One closed-loop cell: `clients` loops, each sends its next request when the previous answered. */
async function runCell(
  system: System,
  variant: Variant,
  op: Op,
  clients: number,
  target: Where,
): Promise<Sample> {
  const leader = target === 'spread' ? -1 : await system.leader();
  const pinned =
    target === 'leader' ? leader : target === 'follower' ? (leader + 1) % system.members.length : -1;
  const urls = pinned >= 0 ? [system.members[pinned]!.url] : system.members.map((m) => m.url);
  const pools = urls.map(
    (u) => new Pool(u, { connections: Math.ceil(clients / urls.length) + 1, pipelining: 1 }),
  );
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const loop = async (id: number) => {
    const pool = pools[id % pools.length]!;
    for (let i = id; !stop; i += clients) {
      const started = performance.now();
      let good = false;
      try {
        good = await (op === 'put' ? system.put(pool, key8(i * 7919)) : system.get(pool, key8(i * 7919)));
      } catch {
        good = false;
      }
      if (!measuring) continue;
      if (good) latencies.push(performance.now() - started);
      else errors += 1;
    }
  };
  const running = Array.from({ length: clients }, (_, i) => loop(i));
  await sleep(WARMUP_MS);
  const cpu0 = system.members.map((m) => cpuMs(m.pid));
  measuring = true;
  const t0 = performance.now();
  await sleep(CELL_MS);
  measuring = false;
  const elapsed = performance.now() - t0;
  const cpu1 = system.members.map((m) => cpuMs(m.pid));
  stop = true;
  await Promise.all(running);
  await Promise.all(pools.map((p) => p.close()));
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  const kreq = latencies.length / 1000;
  const byProcess = cpu1.map((c, i) => (kreq > 0 ? (c - cpu0[i]!) / kreq : NaN));
  return {
    system: system.name,
    variant,
    op,
    clients,
    target,
    reqPerSec: (latencies.length * 1000) / elapsed,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    errors,
    cpuMsPerKReq: byProcess.reduce((a, b) => a + b, 0),
    cpuMsPerKReqByProcess: byProcess,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startConcord(variant: Variant): Promise<System> {
  for (let attempt = 1; ; attempt++) {
    const group = new ProcessGroup(() => undefined);
    try {
      return await startConcordOnce(group, variant);
    } catch (error) {
      // A port that was free a moment ago may be taken by then: try again on new ones.
      await group.stopAll();
      if (attempt >= 3) throw error;
    }
  }
}

async function startConcordOnce(group: ProcessGroup, variant: Variant): Promise<System> {
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
  const handles = await Promise.all(
    specs.map((s) =>
      group.start({
        name: `coordinator-${s.id}`,
        command: process.execPath,
        args: [
          ...(PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []),
          path.join(ROOT, 'dist/apps/coordinator/src/main.js'),
        ],
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
          ADMIN_TOKEN: ADMIN_TOKEN,
          ...(variant === 'snapshots'
            ? { SNAPSHOT_EVERY_ENTRIES: String(SNAP_ENTRIES), COMPACTION_INTERVAL_MS: '1000' }
            : {}),
        },
        ready: { url: `http://127.0.0.1:${s.port}/health/ready`, timeoutMs: 60_000 },
      }),
    ),
  );
  const members = specs.map((s, i) => ({ url: `http://127.0.0.1:${s.port}`, pid: handles[i]!.pid }));
  const system = concordClient(members, group);
  return {
    ...system,
    stop: async () => {
      await group.stopAll();
      await Promise.all(specs.map((s) => rm(s.dir, { recursive: true, force: true })));
    },
  };
}

function findEtcd(): string | undefined {
  return ['/usr/bin/etcd', '/usr/local/bin/etcd', '/usr/sbin/etcd'].find((p) => existsSync(p));
}

async function startEtcd(binary: string, variant: Variant): Promise<System> {
  const specs = await Promise.all(
    ['e1', 'e2', 'e3'].map(async (name) => ({ name, client: await freePort(), peer: await freePort() })),
  );
  const initial = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',');
  const dirs: string[] = [];
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
          ...(variant === 'snapshots'
            ? [
                `--snapshot-count=${SNAP_ENTRIES}`,
                '--auto-compaction-mode=revision',
                `--auto-compaction-retention=${SNAP_ENTRIES}`,
              ]
            : []),
        ],
        { stdio: 'ignore' },
      );
    }),
  );
  const members = specs.map((s, i) => ({ url: `http://127.0.0.1:${s.client}`, pid: children[i]!.pid ?? -1 }));
  const system = etcdClient(members, children, dirs);
  try {
    await waitFor(
      async () => {
        for (const m of members) {
          const r = await fetch(`${m.url}/v3/kv/put`, {
            method: 'POST',
            body: JSON.stringify({ key: b64('probe'), value: b64('1') }),
          }).catch(() => undefined);
          if (r?.ok !== true) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, description: 'etcd cluster ready' },
    );
  } catch (error) {
    await system.stop();
    throw error;
  }
  return system;
}

/** Writes every key once so that gets find them in both systems. */
async function preload(system: System): Promise<void> {
  const pool = new Pool(system.members[0]!.url, { connections: 64 });
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < KEY_SPACE) {
        const key = key8(next++);
        for (let attempt = 0; attempt < 5 && !(await system.put(pool, key).catch(() => false)); attempt++)
          await sleep(100);
      }
    }),
  );
  await pool.close();
}

const median = (xs: number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const round = (n: number, digits = 2) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : 0);
const log = (line: string) => process.stderr.write(`${line}\n`);

interface CellSpec {
  readonly variant: Variant;
  readonly op: Op;
  readonly clients: number;
  readonly target: Where;
}

function cellSpecs(): CellSpec[] {
  const specs: CellSpec[] = [];
  for (const op of OPS)
    for (const clients of CLIENTS)
      for (const target of clients === 1 ? (['leader', 'follower'] as const) : (['spread'] as const))
        specs.push({ variant: 'default', op, clients, target });
  return specs;
}

async function runVariant(systems: System[], specs: CellSpec[], samples: Sample[]): Promise<void> {
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    for (const spec of specs) {
      // Interleaved: both systems run each cell back to back; who goes first alternates per repeat.
      const order = repeat % 2 === 0 ? systems : [...systems].reverse();
      for (const system of order) {
        const s = await runCell(system, spec.variant, spec.op, spec.clients, spec.target);
        samples.push(s);
        log(
          `[${repeat + 1}/${REPEATS}] ${s.system} ${s.variant} ${s.op} c=${s.clients} ${s.target}: ` +
            `${fmt(s.reqPerSec, 0)} req/s p50 ${fmt(s.p50Ms, 2)} p99 ${fmt(s.p99Ms, 2)} ms, ` +
            `${s.errors} errors, ${fmt(s.cpuMsPerKReq, 0)} cpu ms/kreq`,
        );
      }
    }
  }
}

type Row = Omit<Sample, 'cpuMsPerKReqByProcess'> & { cpuMsPerKReqByProcess: number[]; repeats: number };

function summarize(samples: Sample[]): Row[] {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const k = `${s.system}|${s.variant}|${s.op}|${s.clients}|${s.target}`;
    groups.set(k, [...(groups.get(k) ?? []), s]);
  }
  return [...groups.values()].map((g) => {
    const first = g[0]!;
    return {
      system: first.system,
      variant: first.variant,
      op: first.op,
      clients: first.clients,
      target: first.target,
      reqPerSec: median(g.map((s) => s.reqPerSec)),
      p50Ms: median(g.map((s) => s.p50Ms)),
      p99Ms: median(g.map((s) => s.p99Ms)),
      // Errors are summed over the repeats, never hidden by a median.
      errors: g.reduce((a, s) => a + s.errors, 0),
      cpuMsPerKReq: median(g.map((s) => s.cpuMsPerKReq)),
      cpuMsPerKReqByProcess: first.cpuMsPerKReqByProcess.map((_, i) =>
        median(g.map((s) => s.cpuMsPerKReqByProcess[i]!)),
      ),
      repeats: g.length,
    };
  });
}

async function main(): Promise<void> {
  const etcdBinary = findEtcd();
  if (etcdBinary === undefined)
    log('etcd not installed (apt-get install etcd-server): Concord only, no ratios');
  const samples: Sample[] = [];
  const variants: Variant[] = SNAPSHOT_VARIANT ? ['default', 'snapshots'] : ['default'];
  for (const variant of variants) {
    const systems: System[] = [];
    try {
      systems.push(await startConcord(variant));
      if (etcdBinary !== undefined) systems.push(await startEtcd(etcdBinary, variant));
      if (OPS.includes('get') && variant === 'default') for (const system of systems) await preload(system);
      const specs =
        variant === 'default'
          ? cellSpecs()
          : [
              {
                variant,
                op: 'put' as const,
                clients: CLIENTS.includes(64) ? 64 : CLIENTS.at(-1)!,
                target: 'spread' as const,
              },
            ];
      await runVariant(systems, specs, samples);
    } finally {
      for (const system of systems) await system.stop().catch(() => undefined);
    }
  }
  const rows = summarize(samples);
  const find = (system: SystemName, op: Op, clients: number, target: Where, variant: Variant = 'default') =>
    rows.find(
      (r) =>
        r.system === system &&
        r.op === op &&
        r.clients === clients &&
        r.target === target &&
        r.variant === variant,
    );
  const ratio = (op: Op, clients: number, key: 'reqPerSec' | 'p99Ms') => {
    const target: Where = clients === 1 ? 'leader' : 'spread';
    const c = find('concord', op, clients, target);
    const e = find('etcd', op, clients, target);
    return c && e ? round(c[key] / e[key]) : null;
  };

  const lines = [
    `Coordinator benchmark: ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ` +
      `${etcdBinary ? 'etcd at ' + etcdBinary : 'no etcd'}; cells ${CELL_MS / 1000} s after ${WARMUP_MS / 1000} s ` +
      `warm-up, ${REPEATS} repeats interleaved, medians (errors summed); load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    '',
    '| system | variant | op | clients | target | req/s | p50 ms | p99 ms | errors | CPU ms / 1k req (total = per process) | concord/etcd |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const peer = r.system === 'concord' ? find('etcd', r.op, r.clients, r.target, r.variant) : undefined;
    lines.push(
      `| ${r.system} | ${r.variant} | ${r.op} | ${r.clients} | ${r.target} | ${fmt(r.reqPerSec, 0)} | ${fmt(r.p50Ms, 2)} | ` +
        `${fmt(r.p99Ms, 2)} | ${r.errors} | ${fmt(r.cpuMsPerKReq, 0)} = ${r.cpuMsPerKReqByProcess.map((c) => fmt(c, 0)).join(' + ')} | ` +
        `${peer ? fmt(r.reqPerSec / peer.reqPerSec, 2) : ''} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (JSON_OUT) {
    const json = {
      rows: rows.map((r) => ({
        system: r.system,
        op: r.op,
        clients: r.clients,
        target: r.target,
        reqPerSec: round(r.reqPerSec, 1),
        p50Ms: round(r.p50Ms, 3),
        p99Ms: round(r.p99Ms, 3),
        errors: r.errors,
        cpuMsPerKReq: round(r.cpuMsPerKReq, 1),
        // Extensions: which variant (`snapshots` = low snapshot/compaction thresholds), per-process CPU, repeats.
        variant: r.variant,
        cpuMsPerKReqByProcess: r.cpuMsPerKReqByProcess.map((c) => round(c, 1)),
        repeats: r.repeats,
      })),
      ratios: {
        'put@1': ratio('put', 1, 'reqPerSec'),
        'put@64': ratio('put', 64, 'reqPerSec'),
        'put@256': ratio('put', 256, 'reqPerSec'),
        'get@64': ratio('get', 64, 'reqPerSec'),
      },
      p99Ratios: { 'put@64': ratio('put', 64, 'p99Ms'), 'put@256': ratio('put', 256, 'p99Ms') },
    };
    process.stdout.write(JSON.stringify(json) + '\n');
  }
}

await main();
