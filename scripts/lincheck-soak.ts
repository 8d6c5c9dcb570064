/**
 * `npm run lincheck:soak -- --minutes N [--clients 8] [--seed S] [--history FILE]`: a nemesis run of
 * the coordinator, recorded and checked for linearizability. The history is kept (in FILE, or in a fresh
 * temporary directory) so that it can be checked again with `npm run lincheck -- FILE`.
 *
 * Starts a private 3-node coordinator cluster (real processes, built dist/, FAULT_INJECTION=true, as
 * test/coordinator/cluster.ts does), runs clients doing put / get / compare-and-set on three keys while a
 * nemesis applies, one at a time: SIGKILL and restart, SIGSTOP and SIGCONT, a partition (a node cut off
 * from its peers by the transport's fault switch, then healed) and a membership change (a follower
 * removed, wiped and added back as a learner, then promoted). Then it checks the history with
 * libs/lincheck and prints, as its last line,
 * `{"ops":0,"unknown":0,"faults":0,"linearizable":true}`. Exit 0 when linearizable, 1 otherwise.
 *
 * Recording rules: an operation answered is recorded with its outcome; a 503 with
 * `X-Concord-Outcome: notApplied` is left out (the server promises it did nothing, so a server that
 * applied it anyway shows up as a violation); any other failure of a write is an unknown outcome
 * (`return: null`); a failed read is left out (it changed nothing).
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationClient, CoordinatorHttpError } from '@concord/coordination-client';
import { ProcessGroup, waitFor } from '@concord/infra';
import type { KvOperation } from '@concord/lincheck';
import {
  ADMIN_TOKEN,
  CLIENT_TOKEN,
  startCoordinatorCluster,
  type CoordinatorCluster,
  type CoordinatorNode,
} from '../test/coordinator/cluster.js';

const KEYS = ['x', 'y', 'z'];
/** Membership changes and the fault switch are admin routes. */
const adminAuth = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Options {
  minutes: number;
  clients: number;
  seed: number;
  history?: string;
}

function parseArgs(argv: readonly string[]): Options {
  const options: Options = { minutes: 10, clients: 8, seed: Date.now() % 1_000_000 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = Number(argv[i + 1]);
    if (arg === '--') continue;
    if (arg === '--history' && argv[i + 1] !== undefined && argv[i + 1] !== '') {
      options.history = path.resolve(argv[i + 1] as string);
      i++;
      continue;
    }
    if (
      (arg === '--minutes' || arg === '--clients' || arg === '--seed') &&
      Number.isFinite(value) &&
      value > 0
    ) {
      options[arg.slice(2) as 'minutes' | 'clients' | 'seed'] = value;
      i++;
      continue;
    }
    process.stderr.write(
      `lincheck:soak: unknown or bad argument ${arg ?? ''}\nusage: npm run lincheck:soak -- --minutes N [--clients C] [--seed S] [--history FILE]\n`,
    );
    process.exit(2);
  }
  return options;
}

/** A small deterministic PRNG so that a run's schedule can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** How a failed request is recorded: left out (certainly not applied) or of unknown outcome. */
function failedWrite(error: unknown): 'notApplied' | 'failed' | 'unknown' {
  if (error instanceof CoordinatorHttpError) {
    if (error.status === 503 && error.outcome === 'notApplied') return 'notApplied';
    if (error.status < 500) return 'failed';
  }
  return 'unknown';
}

async function client(
  id: number,
  urls: () => string[],
  history: KvOperation[],
  random: () => number,
  now: () => number,
  running: () => boolean,
): Promise<void> {
  let coordination = new CoordinationClient({
    urls: urls(),
    token: CLIENT_TOKEN,
    requestTimeoutMs: 2_000,
    attempts: 3,
  });
  let counter = 0;
  let urlsSeen = urls().join(',');
  while (running()) {
    if (urls().join(',') !== urlsSeen) {
      // A member was replaced: talk to the new set.
      coordination.close();
      urlsSeen = urls().join(',');
      coordination = new CoordinationClient({
        urls: urls(),
        token: CLIENT_TOKEN,
        requestTimeoutMs: 2_000,
        attempts: 3,
      });
    }
    const key = KEYS[Math.floor(random() * KEYS.length)] ?? 'x';
    const roll = random();
    const value = `${id}-${++counter}`;
    if (roll < 0.4) {
      const call = now();
      try {
        const kv = await coordination.get(key);
        history.push({
          client: id,
          op: 'get',
          key,
          call,
          return: now(),
          ok: true,
          result: kv?.value ?? null,
        });
      } catch {
        // A failed read changed nothing.
      }
    } else if (roll < 0.7) {
      const call = now();
      try {
        await coordination.put(key, value);
        history.push({ client: id, op: 'put', key, value, call, return: now(), ok: true });
      } catch (error) {
        const outcome = failedWrite(error);
        if (outcome === 'notApplied') continue;
        history.push({
          client: id,
          op: 'put',
          key,
          value,
          call,
          return: outcome === 'failed' ? now() : null,
          ok: false,
        });
      }
    } else {
      const current = await coordination.get(key, { serializable: true }).catch(() => null);
      const expect = random() < 0.2 ? null : (current?.value ?? null);
      const call = now();
      try {
        const compare =
          expect === null
            ? ({ key, target: 'createRevision', op: '=', value: 0 } as const)
            : ({ key, target: 'value', op: '=', value: expect } as const);
        const result = await coordination.txn({
          compare: [compare],
          success: [{ put: { key, value } }],
          failure: [],
        });
        history.push({
          client: id,
          op: 'cas',
          key,
          value,
          expect,
          call,
          return: now(),
          ok: result.succeeded,
        });
      } catch (error) {
        // A refused cas (4xx) changed nothing either: left out, like a notApplied one.
        if (failedWrite(error) !== 'unknown') continue;
        history.push({ client: id, op: 'cas', key, value, expect, call, return: null, ok: false });
      }
    }
  }
  coordination.close();
}

async function admin(url: string, method: string, route: string, body?: unknown): Promise<Response> {
  return fetch(`${url}${route}`, {
    method,
    headers: adminAuth,
    signal: AbortSignal.timeout(5_000),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Removes a follower, wipes it, and adds it back under its id as a learner, then promotes it. */
/** The member ids in the leader's configuration. */
async function memberIds(leader: CoordinatorNode): Promise<string[]> {
  const response = await admin(leader.url, 'GET', '/v1/cluster');
  if (!response.ok) throw new Error(`GET /v1/cluster on ${leader.id}: ${response.status}`);
  const view = (await response.json()) as { members: { id: string }[] };
  return view.members.map((m) => m.id);
}

async function replaceMember(cluster: CoordinatorCluster, victim: CoordinatorNode): Promise<void> {
  // A removal whose answer was lost (a 503 on a leader change after the entry committed) has still
  // removed the member: go on to add it back rather than leave the cluster a member short.
  const removed = await admin((await cluster.leader()).url, 'DELETE', `/v1/cluster/members/${victim.id}`);
  if (removed.status !== 200 && (await memberIds(await cluster.leader())).includes(victim.id)) {
    throw new Error(`remove ${victim.id}: ${removed.status}`);
  }
  await victim.proc.stop(5_000);
  const fresh = await cluster.join(victim.id);
  // Retried until it is in (a leader change may lose the first attempt): a run must not go on with a
  // member short. 409: an earlier attempt went through.
  await waitFor(
    async () => {
      const leader = await cluster.leader().catch(() => undefined);
      if (leader === undefined) return false;
      const added = await admin(leader.url, 'POST', '/v1/cluster/members', {
        id: victim.id,
        peerAddress: `127.0.0.1:${fresh.peerPort}`,
        apiUrl: fresh.url,
      }).catch(() => undefined);
      return added?.status === 202 || added?.status === 409;
    },
    { timeoutMs: 120_000, intervalMs: 1_000, description: `${victim.id} added back` },
  );
  await waitFor(
    async () => {
      const leader = await cluster.leader().catch(() => undefined);
      if (leader === undefined) return false;
      const response = await admin(leader.url, 'POST', `/v1/cluster/members/${victim.id}/promote`).catch(
        () => undefined,
      );
      return response?.status === 200;
    },
    { timeoutMs: 60_000, intervalMs: 500, description: `${victim.id} promoted after catching up` },
  );
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const durationMs = options.minutes * 60_000;
  const random = prng(options.seed);
  const group = new ProcessGroup();
  const say = (line: string) => process.stderr.write(`${line}\n`);
  say(`lincheck:soak: seed ${options.seed}, ${options.clients} clients, ${options.minutes} min`);
  const cluster = await startCoordinatorCluster(group, 3);
  const live = () => cluster.nodes.filter((n) => n.proc.exit === undefined);
  const history: KvOperation[] = [];
  const start = performance.now();
  const now = () => performance.now() - start;
  let running = true;
  const faults: string[] = [];

  const workers = Array.from({ length: options.clients }, (_, i) =>
    client(
      i + 1,
      () => live().map((n) => n.url),
      history,
      prng(options.seed + i + 1),
      now,
      () => running,
    ),
  );

  const kinds = ['kill', 'pause', 'partition', 'kill', 'pause', 'partition', 'membership'] as const;
  let round = 0;
  while (now() < durationMs) {
    await sleep(1_000 + random() * 2_000);
    const nodes = live();
    const victim = nodes[Math.floor(random() * nodes.length)];
    if (victim === undefined) continue;
    // Every kind comes up early in a short run: the first rounds go through them in order.
    const kind =
      round < kinds.length
        ? (['kill', 'pause', 'partition', 'membership'] as const)[round % 4]
        : kinds[Math.floor(random() * kinds.length)];
    round++;
    const hold = 1_000 + random() * 3_000;
    try {
      switch (kind) {
        case 'kill':
          victim.proc.sigkill();
          await sleep(hold);
          await victim.proc.restart();
          break;
        case 'pause':
          victim.proc.sigstop();
          await sleep(hold);
          victim.proc.sigcont();
          break;
        case 'partition': {
          const others = cluster.nodes.filter((n) => n.id !== victim.id).map((n) => n.id);
          const cut = await admin(victim.url, 'PUT', '/admin/faults/partition', { peers: others });
          if (cut.status !== 200) throw new Error(`partition ${victim.id}: ${cut.status}`);
          await sleep(hold);
          await admin(victim.url, 'PUT', '/admin/faults/partition', { peers: [] });
          break;
        }
        case 'membership': {
          const leader = await cluster.leader();
          // A follower in the leader's configuration (a node left out by an earlier failed change
          // is not one).
          const members = await memberIds(leader);
          const follower = live().find((n) => n.id !== leader.id && members.includes(n.id));
          if (follower === undefined) continue;
          await replaceMember(cluster, follower);
          faults.push(`membership ${follower.id}`);
          say(`  ${(now() / 1000).toFixed(0)} s: removed and re-added ${follower.id}`);
          continue;
        }
        default:
          continue;
      }
      faults.push(`${kind} ${victim.id}`);
      say(`  ${(now() / 1000).toFixed(0)} s: ${kind} ${victim.id} for ${(hold / 1000).toFixed(1)} s`);
    } catch (error) {
      say(
        `  ${(now() / 1000).toFixed(0)} s: ${kind} ${victim.id} did not complete: ${(error as Error).message}`,
      );
    }
  }
  running = false;
  await Promise.all(workers);
  await group.stopAll();

  const file =
    options.history ?? path.join(await mkdtemp(path.join(os.tmpdir(), 'concord-soak-')), 'history.jsonl');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, history.map((op) => JSON.stringify(op)).join('\n') + '\n');
  const unknown = history.filter((op) => op.return === null).length;
  say(
    `history: ${file} (${history.length} operations, ${unknown} unknown); re-check: npm run lincheck -- ${file}`,
  );
  say(`faults: ${faults.join(', ')}`);
  // Checked by `npm run lincheck` in a process of its own: the same command anyone re-runs on the kept
  // file, with a heap of its own rather than the soak's.
  const checkStarted = performance.now();
  const check = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/lincheck.ts', '--verbose', file], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const linearizable = check.status === 0;
  say(
    `checked in ${((performance.now() - checkStarted) / 1000).toFixed(1)} s: ${check.stdout.trim()} (exit ${check.status ?? check.signal})`,
  );
  process.stdout.write(
    `${JSON.stringify({ ops: history.length, unknown, faults: faults.length, linearizable })}\n`,
  );
  process.exitCode = linearizable ? 0 : 1;
}

await main();
