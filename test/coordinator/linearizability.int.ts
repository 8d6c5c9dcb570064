/**
 * Linearizability of the coordinator's REST API under faults. Concurrent clients do put, get and compare-and-swap
 * on a few keys while a nemesis kills (SIGKILL + restart), pauses (SIGSTOP/SIGCONT) and restarts nodes, for at
 * least 60 s. The recorded history (the jsonl format of `npm run lincheck`) must be linearizable. Operations that
 * failed ambiguously are recorded with an unknown outcome (`return: null`); failed reads are dropped (no effect), and
 * so are writes refused with a 503 carrying `X-Concord-Outcome: notApplied` (the server promises they did nothing,
 * so one that was applied anyway shows up as a violation).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoordinationClient, CoordinatorHttpError } from '@concord/coordination-client';
import { ProcessGroup } from '@concord/infra';
import { checkKv, type KvOperation } from '@concord/lincheck';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { CLIENT_TOKEN, startCoordinatorCluster } from './cluster.js';

const DURATION_MS = 60_000;
const CLIENTS = 6;
const KEYS = ['x', 'y', 'z'];
const group = new ProcessGroup();

beforeEach(({ onTestFailed }) => group.printLogsOnFailure(onTestFailed));
afterAll(() => group.stopAll());

/** A small deterministic PRNG so a failing run's schedule can be read back from its seed. */
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A 503 whose `X-Concord-Outcome` promises nothing was applied: left out of the history. */
const notApplied = (error: unknown): boolean =>
  error instanceof CoordinatorHttpError && error.status === 503 && error.outcome === 'notApplied';

describe('coordinator linearizability', () => {
  it(
    `keeps put/get/cas linearizable while a nemesis kills, pauses and restarts nodes for ${DURATION_MS / 1000} s`,
    { timeout: 240_000 },
    async () => {
      const seed = Date.now() % 1_000_000;
      const random = prng(seed);
      const cluster = await startCoordinatorCluster(group, 3);
      const history: KvOperation[] = [];
      const start = performance.now();
      const now = () => performance.now() - start;
      let running = true;

      const worker = async (id: number) => {
        const client = new CoordinationClient({
          urls: cluster.urls,
          token: CLIENT_TOKEN,
          requestTimeoutMs: 2_000,
          attempts: 3,
        });
        let counter = 0;
        while (running) {
          const key = KEYS[Math.floor(random() * KEYS.length)] ?? 'x';
          const roll = random();
          const call = now();
          if (roll < 0.4) {
            try {
              const kv = await client.get(key);
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
              // A failed read changed nothing: it is left out of the history.
            }
          } else if (roll < 0.7) {
            const value = `${id}-${++counter}`;
            try {
              await client.put(key, value);
              history.push({ client: id, op: 'put', key, value, call, return: now(), ok: true });
            } catch (error) {
              if (notApplied(error)) continue;
              const definite = error instanceof CoordinatorHttpError && error.status < 500;
              history.push({
                client: id,
                op: 'put',
                key,
                value,
                call,
                return: definite ? now() : null,
                ok: !definite,
              });
            }
          } else {
            const value = `${id}-${++counter}`;
            const current = await client.get(key, { serializable: true }).catch(() => null);
            const expect_ = random() < 0.2 ? null : (current?.value ?? null);
            const casCall = now();
            try {
              const compare =
                expect_ === null
                  ? ({ key, target: 'createRevision', op: '=', value: 0 } as const)
                  : ({ key, target: 'value', op: '=', value: expect_ } as const);
              const result = await client.txn({
                compare: [compare],
                success: [{ put: { key, value } }],
                failure: [],
              });
              history.push({
                client: id,
                op: 'cas',
                key,
                value,
                expect: expect_,
                call: casCall,
                return: now(),
                ok: result.succeeded,
              });
            } catch (error) {
              const definite = error instanceof CoordinatorHttpError && error.status < 500;
              if (!definite && !notApplied(error))
                history.push({
                  client: id,
                  op: 'cas',
                  key,
                  value,
                  expect: expect_,
                  call: casCall,
                  return: null,
                  ok: true,
                });
            }
          }
        }
        client.close();
      };

      const nemesis = async () => {
        const faults: string[] = [];
        while (now() < DURATION_MS) {
          await sleep(1_000 + random() * 1_500);
          const live = cluster.nodes.filter((n) => n.proc.exit === undefined);
          const victim = live[Math.floor(random() * live.length)];
          if (victim === undefined) continue;
          const fault = random();
          if (fault < 0.4) {
            faults.push(`kill ${victim.id}`);
            victim.proc.sigkill();
            await sleep(1_000 + random() * 2_000);
            await victim.proc.restart();
          } else if (fault < 0.8) {
            faults.push(`pause ${victim.id}`);
            victim.proc.sigstop();
            await sleep(1_000 + random() * 2_000);
            victim.proc.sigcont();
          } else {
            faults.push(`restart ${victim.id}`);
            await victim.proc.restart(5_000);
          }
        }
        return faults;
      };

      const workers = Array.from({ length: CLIENTS }, (_, i) => worker(i + 1));
      const faults = await nemesis();
      running = false;
      await Promise.all(workers);

      const file = path.join(await mkdtemp(path.join(os.tmpdir(), 'concord-lin-')), 'history.jsonl');
      await writeFile(file, history.map((op) => JSON.stringify(op)).join('\n') + '\n');
      const completed = history.filter((op) => op.return !== null).length;
      process.stdout.write(
        `linearizability: seed ${seed}, ${history.length} operations (${completed} completed), faults: ${faults.join(', ')}\n` +
          `history: ${file} (re-check with: npm run lincheck -- --format jsonl ${file})\n`,
      );
      expect(faults.length).toBeGreaterThanOrEqual(8);
      expect(completed).toBeGreaterThan(200);
      const verdict = checkKv(history, { timeoutMs: 60_000 });
      expect(verdict.linearizable, `history ${file} is not linearizable`).toBe(true);
    },
  );
});
