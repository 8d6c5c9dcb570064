import { type DemoContext, field, http, killOnPort, pollUntil, restartKilled, sleep } from '../context.js';

interface ClusterView {
  readonly node: string;
  readonly leader: string | undefined;
  readonly term: number;
  readonly apiUrlOf: ReadonlyMap<string, string>;
}

async function clusterView(ctx: DemoContext, url: string): Promise<ClusterView | undefined> {
  const answer = await http(`${url}/v1/cluster`, { token: ctx.stack.coordinatorToken, timeoutMs: 1_500 });
  if (answer.status !== 200) return undefined;
  const members = field(answer.body, 'members');
  const apiUrlOf = new Map<string, string>();
  if (Array.isArray(members)) {
    for (const m of members) {
      const id = field(m, 'id');
      const apiUrl = field(m, 'apiUrl');
      if (typeof id === 'string' && typeof apiUrl === 'string') apiUrlOf.set(id, apiUrl);
    }
  }
  const leader = field(answer.body, 'leader');
  return {
    node: String(field(answer.body, 'id')),
    leader: typeof leader === 'string' && leader.length > 0 ? leader : undefined,
    term: Number(field(answer.body, 'term')),
    apiUrlOf,
  };
}

const writeSpacingMs = 20;
const writeTimeoutMs = 2_000;

/**
 * Raft leader failover: writes keep flowing while the leader is SIGKILLed; a new leader is elected by the two
 * survivors and every write that was acknowledged before, during or after is still readable (committed means
 * on a majority, and a majority survives).
 */
export async function leaderFailover(ctx: DemoContext): Promise<void> {
  const { narrator: n, stack } = ctx;
  n.step('find the Raft leader');
  let before: ClusterView | undefined;
  for (const url of stack.coordinatorUrls) {
    before = await clusterView(ctx, url);
    if (before?.leader !== undefined) break;
  }
  if (before?.leader === undefined) {
    n.check('the coordinator cluster has a leader', false, 'no node answered GET /v1/cluster with a leader');
    return;
  }
  const leaderId = before.leader;
  const leaderUrl = before.apiUrlOf.get(leaderId) ?? '';
  const leaderPort = Number(new URL(leaderUrl).port);
  const survivors = stack.coordinatorUrls.filter((u) => new URL(u).port !== String(leaderPort));
  n.say(
    `leader is ${leaderId} at ${leaderUrl}, term ${before.term}; writes go to the followers ${survivors.join(', ')}`,
  );

  const prefix = `demo/leader-failover/${ctx.runId}/`;
  const acked = new Map<string, string>();
  let attempts = 0;
  let failures = 0;
  let lastAckBeforeKillMs = 0;
  let firstAckAfterKillMs: number | undefined;
  let killedAtMs: number | undefined = undefined;
  let writing = true;

  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const key = `${prefix}${String(i).padStart(5, '0')}`;
      const url = survivors[i % survivors.length] ?? '';
      attempts++;
      const answer = await http(`${url}/v1/kv/${key}`, {
        method: 'PUT',
        token: stack.coordinatorToken,
        body: { value: `v${i}` },
        timeoutMs: writeTimeoutMs,
      });
      const now = n.elapsedMs();
      if (answer.status === 200 || answer.status === 201) {
        acked.set(key, `v${i}`);
        if (killedAtMs === undefined) lastAckBeforeKillMs = now;
        else if (firstAckAfterKillMs === undefined) {
          firstAckAfterKillMs = now;
          n.say(`first write acknowledged after the kill: ${key} (${now - killedAtMs} ms after it)`);
        }
      } else {
        failures++;
        if (failures <= 5 || failures % 20 === 0) {
          n.say(
            `write ${key} not acknowledged: ${answer.status === 0 ? String(answer.body) : answer.status} (outcome unknown, not counted)`,
          );
        }
      }
      await sleep(writeSpacingMs);
    }
  })();

  n.step('write steadily, then kill the leader');
  await sleep(2_000);
  n.say(`${acked.size} writes acknowledged so far`);
  const killed = await killOnPort(
    ctx,
    `coordinator-${stack.coordinatorUrls.findIndex((u) => new URL(u).port === String(leaderPort)) + 1}`,
    leaderPort,
  );
  killedAtMs = n.elapsedMs();

  n.step('wait for a new leader among the survivors');
  const after = await pollUntil(
    async () => {
      for (const url of survivors) {
        const view = await clusterView(ctx, url);
        if (view?.leader !== undefined && view.leader !== leaderId) return view;
      }
      return undefined;
    },
    30_000,
    100,
  );
  if (after !== undefined) {
    n.say(
      `new leader: ${after.leader ?? '?'} in term ${after.term} (was ${leaderId} in term ${before.term}), seen ${n.elapsedMs() - killedAtMs} ms after the kill`,
    );
  }
  await pollUntil(async () => (firstAckAfterKillMs !== undefined ? true : undefined), 15_000, 100);
  await sleep(2_000);
  writing = false;
  await writer;
  n.say(`writing stopped: ${attempts} attempts, ${acked.size} acknowledged, ${failures} not acknowledged`);

  n.step('read back every acknowledged write (linearizable reads, from the survivors)');
  const keys = [...acked.keys()];
  const missing: string[] = [];
  const concurrency = 8;
  for (let start = 0; start < keys.length; start += concurrency) {
    await Promise.all(
      keys.slice(start, start + concurrency).map(async (key, j) => {
        const url = survivors[(start + j) % survivors.length] ?? '';
        const answer = await http(`${url}/v1/kv/${key}`, { token: stack.coordinatorToken });
        if (answer.status !== 200 || field(answer.body, 'value') !== acked.get(key)) missing.push(key);
      }),
    );
  }
  n.say(`${keys.length - missing.length} of ${keys.length} acknowledged writes read back`);

  n.check(
    'a new leader was elected among the survivors',
    after !== undefined,
    after === undefined ? 'none within 30 s' : `${after.leader ?? '?'}, term ${after.term} > ${before.term}`,
  );
  n.check(
    'writes were acknowledged again after the kill',
    firstAckAfterKillMs !== undefined,
    firstAckAfterKillMs === undefined
      ? 'none'
      : `unavailable for about ${firstAckAfterKillMs - lastAckBeforeKillMs} ms`,
  );
  n.check(
    'every acknowledged write is readable with its value',
    missing.length === 0 && keys.length > 0,
    missing.length === 0
      ? `${keys.length} writes`
      : `missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? '...' : ''}`,
  );

  n.step('restore the stack');
  const restarted = await restartKilled(ctx, killed);
  if (restarted) {
    const rejoined = await pollUntil(
      async () => {
        const view = await clusterView(ctx, `http://127.0.0.1:${leaderPort}`);
        return view?.leader !== undefined ? view : undefined;
      },
      30_000,
      500,
    );
    n.say(
      rejoined === undefined
        ? `${leaderId} has not seen a leader yet`
        : `${leaderId} rejoined as a follower of ${rejoined.leader ?? '?'} with its data directory`,
    );
  }
  n.say(`the demo's keys stay under ${prefix} (one run id per run)`);
}
