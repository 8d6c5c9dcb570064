/**
 * `npm run bench:raft`: what libs/raft costs on this machine, with real disks and real sockets.
 *
 * 1. The raw fdatasync rate of the temp directory's disk: the physical limit of anything durable.
 * 2. The disk WAL alone: concurrent single-entry saves, to see group commit at work (saves per fsync).
 * 3. A 3-node cluster, one process per node on loopback, TCP transport with the cluster handshake, disk WAL
 *    and snapshot files in temp dirs: closed-loop clients on the leader propose values and wait for them to be
 *    applied; throughput and p50/p99 commit latency per client concurrency and value size, and commits per
 *    leader fsync.
 *
 * Everything is measured in the same run, so the cluster figures read as a fraction of the disk's limit.
 * Options: `--quick` (shorter phases, for a smoke run).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { defaultRaftConfig } from '../libs/raft/src/core/raft-node.js';
import { RaftDriver } from '../libs/raft/src/driver/raft-driver.js';
import type { StateMachine } from '../libs/raft/src/ports.js';
import { FileSnapshotStorage } from '../libs/raft/src/storage/snapshot-file.js';
import { DiskWal } from '../libs/raft/src/storage/wal.js';
import { TcpTransport } from '../libs/raft/src/transport/tcp-transport.js';
import type { Entry, NodeId } from '../libs/raft/src/types.js';

const CONCURRENCIES = [1, 16, 64, 256] as const;
const VALUE_SIZES_BYTES = [64, 1024] as const;
const quick = process.argv.includes('--quick');
const FSYNC_PROBE_MS = quick ? 500 : 2000;
const WAL_PHASE_MS = quick ? 200 : 700;
const CLUSTER_WARMUP_MS = quick ? 200 : 500;
const CLUSTER_PHASE_MS = quick ? 500 : 4000;
const NODE_IDS = ['n1', 'n2', 'n3'] as const;

/** Sequential small appends, each followed by fdatasync: what one durable write costs. */
async function measureFsyncRate(dir: string): Promise<number> {
  const handle = await open(join(dir, 'fsync-probe'), 'w');
  const record = Buffer.alloc(128, 0x5a);
  let syncs = 0;
  const start = performance.now();
  try {
    while (performance.now() - start < FSYNC_PROBE_MS) {
      await handle.write(record, 0, record.length, syncs * record.length);
      await handle.datasync();
      syncs++;
    }
  } finally {
    await handle.close();
  }
  return (syncs * 1000) / (performance.now() - start);
}

interface WalResult {
  readonly concurrency: number;
  readonly valueBytes: number;
  readonly savesPerSecond: number;
  readonly savesPerFsync: number;
}

/** `concurrency` writers, each saving one entry at a time, as a leader's clients would. */
async function measureWal(dir: string, concurrency: number, valueBytes: number): Promise<WalResult> {
  const wal = await DiskWal.open({ dir });
  const data = randomBytes(valueBytes);
  let nextIndex = 1;
  let stop = false;
  // Indices are taken in call order, which is the order the WAL writes them in.
  const writer = async (): Promise<void> => {
    while (!stop) {
      const entry: Entry = { term: 1, index: nextIndex++, type: 'normal', data };
      await wal.append([entry]);
    }
  };
  const start = performance.now();
  const before = wal.stats();
  const writers = Array.from({ length: concurrency }, writer);
  await new Promise((resolve) => setTimeout(resolve, WAL_PHASE_MS));
  stop = true;
  await Promise.all(writers);
  const elapsedMs = performance.now() - start;
  const after = wal.stats();
  await wal.close();
  const saves = after.saves - before.saves;
  return {
    concurrency,
    valueBytes,
    savesPerSecond: (saves * 1000) / elapsedMs,
    savesPerFsync: saves / Math.max(1, after.fsyncs - before.fsyncs),
  };
}

/** One node process, spoken to over the IPC channel. */
class NodeProcess {
  private readonly waiting = new Map<number, (reply: NodeReply) => void>();
  private nextRequest = 1;

  constructor(
    readonly id: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (raw) => {
      const reply = raw as NodeReply;
      this.waiting.get(reply.requestId)?.(reply);
      this.waiting.delete(reply.requestId);
    });
  }

  request(body: NodeRequest['body']): Promise<NodeReply> {
    const requestId = this.nextRequest++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.id}: no reply to ${body.cmd}`)), 60_000);
      this.waiting.set(requestId, (reply) => {
        clearTimeout(timer);
        if (reply.error !== undefined) reject(new Error(`${this.id}: ${reply.error}`));
        else resolve(reply);
      });
      this.child.send({ requestId, body } satisfies NodeRequest);
    });
  }
}

async function startCluster(root: string): Promise<NodeProcess[]> {
  const secret = randomBytes(32).toString('hex');
  const script = fileURLToPath(import.meta.url);
  const nodes = NODE_IDS.map(
    (id) => new NodeProcess(id, fork(script, ['--node'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })),
  );
  const addresses = await Promise.all(
    nodes.map(async (node) => {
      const reply = await node.request({
        cmd: 'init',
        id: node.id,
        dir: join(root, node.id),
        secret,
        voters: [...NODE_IDS],
      });
      return reply.address ?? '';
    }),
  );
  const peers = Object.fromEntries(NODE_IDS.map((id, i) => [id, addresses[i] ?? '']));
  await Promise.all(nodes.map((node) => node.request({ cmd: 'start', peers })));
  return nodes;
}

async function findLeader(nodes: readonly NodeProcess[], timeoutMs = 15_000): Promise<NodeProcess> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const node of nodes) {
      const reply = await node.request({ cmd: 'status' });
      if (reply.leader === true) return node;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no leader elected');
}

async function stopCluster(nodes: readonly NodeProcess[]): Promise<void> {
  await Promise.all(
    nodes.map(async (node) => {
      const exited = new Promise((resolve) => node.child.once('exit', resolve));
      await node.request({ cmd: 'stop' }).catch(() => node.child.kill());
      await exited;
    }),
  );
}

const pad = (value: string | number, width: number): string => String(value).padStart(width);

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'concord-bench-raft-'));
  const startedMs = performance.now();
  try {
    console.log(`bench:raft, node ${process.version}, temp dir ${root}${quick ? ' (quick)' : ''}\n`);
    const fsyncsPerSecond = await measureFsyncRate(root);
    console.log(
      `raw fdatasync rate: ${fsyncsPerSecond.toFixed(0)} /s (128 B appends, ${FSYNC_PROBE_MS} ms)\n`,
    );

    console.log('disk WAL alone: writers each appending one entry at a time');
    console.log('writers  value  saves/s  saves/fsync');
    for (const valueBytes of VALUE_SIZES_BYTES) {
      for (const concurrency of CONCURRENCIES) {
        const r = await measureWal(join(root, `wal-${concurrency}-${valueBytes}`), concurrency, valueBytes);
        console.log(
          `${pad(concurrency, 7)}  ${pad(valueBytes, 5)}  ${pad(r.savesPerSecond.toFixed(0), 7)}  ${pad(r.savesPerFsync.toFixed(1), 11)}`,
        );
      }
    }

    console.log(
      '\n3-node cluster: separate processes, loopback TCP, disk WAL, closed-loop clients on the leader',
    );
    console.log('clients  value  commits/s    p50 ms    p99 ms  commits/fsync  of fsync limit');
    for (const valueBytes of VALUE_SIZES_BYTES) {
      const nodes = await startCluster(join(root, `cluster-${valueBytes}`));
      try {
        const leader = await findLeader(nodes);
        for (const concurrency of CONCURRENCIES) {
          const reply = await leader.request({
            cmd: 'run',
            concurrency,
            valueBytes,
            warmupMs: CLUSTER_WARMUP_MS,
            durationMs: CLUSTER_PHASE_MS,
          });
          const r = reply.result as WorkloadResult;
          console.log(
            `${pad(concurrency, 7)}  ${pad(valueBytes, 5)}  ${pad(r.commitsPerSecond.toFixed(0), 9)}  ${pad(r.p50Ms.toFixed(2), 8)}  ${pad(r.p99Ms.toFixed(2), 8)}  ${pad(r.commitsPerFsync.toFixed(1), 13)}  ${pad(`${((100 * r.commitsPerSecond) / fsyncsPerSecond).toFixed(0)} %`, 14)}`,
          );
        }
      } finally {
        await stopCluster(nodes);
      }
    }
    console.log(`\ntotal ${((performance.now() - startedMs) / 1000).toFixed(1)} s`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------------------------------- node process

type NodeRequest = {
  readonly requestId: number;
  readonly body:
    | { cmd: 'init'; id: NodeId; dir: string; secret: string; voters: NodeId[] }
    | { cmd: 'start'; peers: Record<NodeId, string> }
    | { cmd: 'status' }
    | { cmd: 'run'; concurrency: number; valueBytes: number; warmupMs: number; durationMs: number }
    | { cmd: 'stop' };
};

interface WorkloadResult {
  readonly commitsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly commitsPerFsync: number;
}

interface NodeReply {
  readonly requestId: number;
  readonly error?: string;
  readonly address?: string;
  readonly leader?: boolean;
  readonly result?: WorkloadResult;
}

const TICK_MS = 20;

/** The cheapest deterministic state machine: what is measured is Raft, storage and transport. */
class CountingStateMachine implements StateMachine<number> {
  private applied = 0;

  apply(_entry: Entry): number {
    return ++this.applied;
  }

  snapshot(): Uint8Array {
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleLE(this.applied);
    return bytes;
  }

  restore(data: Uint8Array): void {
    this.applied = Buffer.from(data).readDoubleLE(0);
  }
}

interface BenchNode {
  readonly driver: RaftDriver<number>;
  readonly wal: DiskWal;
}

/** Closed-loop clients: each proposes, waits for its value to be applied, and proposes again. */
async function runWorkload(
  node: BenchNode,
  concurrency: number,
  valueBytes: number,
  warmupMs: number,
  durationMs: number,
): Promise<WorkloadResult> {
  const value = randomBytes(valueBytes);
  const latenciesMs: number[] = [];
  let measuring = false;
  let stop = false;
  const client = async (): Promise<void> => {
    while (!stop) {
      const start = performance.now();
      await node.driver.propose(value);
      if (measuring) latenciesMs.push(performance.now() - start);
    }
  };
  const clients = Array.from({ length: concurrency }, client);
  await new Promise((resolve) => setTimeout(resolve, warmupMs));
  const fsyncsBefore = node.wal.stats().fsyncs;
  measuring = true;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  measuring = false;
  const elapsedMs = performance.now() - start;
  const fsyncs = node.wal.stats().fsyncs - fsyncsBefore;
  stop = true;
  await Promise.all(clients);
  latenciesMs.sort((a, b) => a - b);
  const at = (q: number): number =>
    latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))] ?? NaN;
  return {
    commitsPerSecond: (latenciesMs.length * 1000) / elapsedMs,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    commitsPerFsync: latenciesMs.length / Math.max(1, fsyncs),
  };
}

function runBenchNode(): void {
  let node: BenchNode | null = null;
  let init: { id: NodeId; dir: string; voters: NodeId[]; transport: TcpTransport } | null = null;
  const handle = async (body: NodeRequest['body']): Promise<Omit<NodeReply, 'requestId'>> => {
    switch (body.cmd) {
      case 'init': {
        const transport = await TcpTransport.start({
          nodeId: body.id,
          listen: { host: '127.0.0.1', port: 0 },
          clusterSecret: body.secret,
          log: (event) => {
            if (event.level === 'warn' || event.level === 'error')
              console.error(`${body.id}: ${JSON.stringify(event)}`);
          },
        });
        init = { id: body.id, dir: body.dir, voters: body.voters, transport };
        return { address: transport.address };
      }
      case 'start': {
        if (init === null) throw new Error('start before init');
        const wal = await DiskWal.open({ dir: join(init.dir, 'wal') });
        const driver = new RaftDriver<number>({
          raft: { ...defaultRaftConfig, id: init.id, electionTimeoutTicks: 10, heartbeatIntervalTicks: 2 },
          tickIntervalMs: TICK_MS,
          transport: init.transport,
          log: wal,
          snapshots: new FileSnapshotStorage({ dir: join(init.dir, 'snapshots') }),
          stateMachine: new CountingStateMachine(),
          bootstrap: init.voters,
          peers: new Map(Object.entries(body.peers)),
          snapshotEveryEntries: 20_000,
          onFatal: (error) => {
            console.error(`${init?.id ?? '?'}: fatal: ${String(error)}`);
            process.exitCode = 1;
          },
        });
        await driver.start();
        node = { driver, wal };
        return {};
      }
      case 'status':
        return { leader: node?.driver.status().role === 'leader' };
      case 'run':
        if (node === null) throw new Error('run before start');
        return {
          result: await runWorkload(node, body.concurrency, body.valueBytes, body.warmupMs, body.durationMs),
        };
      case 'stop':
        await node?.driver.stop();
        await init?.transport.close();
        setImmediate(() => process.disconnect());
        return {};
    }
  };
  process.on('message', (raw) => {
    const request = raw as NodeRequest;
    void handle(request.body).then(
      (reply) => process.send?.({ requestId: request.requestId, ...reply } satisfies NodeReply),
      (error: unknown) =>
        process.send?.({ requestId: request.requestId, error: String(error) } satisfies NodeReply),
    );
  });
}

if (process.argv.includes('--node')) {
  runBenchNode();
} else {
  await main();
}
