import { type DemoContext, field, http, type HttpAnswer, pollUntil } from '../context.js';

/** One coordinator node as its own `GET /v1/cluster` describes it. */
interface NodeView {
  readonly url: string;
  readonly id: string;
  readonly leader: string | null;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

async function nodeView(ctx: DemoContext, url: string): Promise<NodeView | undefined> {
  const answer = await http(`${url}/v1/cluster`, { token: ctx.stack.coordinatorToken, timeoutMs: 1_500 });
  if (answer.status !== 200) return undefined;
  const leader = field(answer.body, 'leader');
  return {
    url,
    id: String(field(answer.body, 'id')),
    leader: typeof leader === 'string' && leader.length > 0 ? leader : null,
    term: Number(field(answer.body, 'term')),
    commitIndex: Number(field(answer.body, 'commitIndex')),
    appliedIndex: Number(field(answer.body, 'appliedIndex')),
  };
}

async function allViews(ctx: DemoContext): Promise<NodeView[] | undefined> {
  const views = await Promise.all(ctx.stack.coordinatorUrls.map((url) => nodeView(ctx, url)));
  return views.every((v) => v !== undefined) ? views : undefined;
}

/** The fault switch of one node (admin token; the coordinator mounts it only with FAULT_INJECTION=true). */
async function setBlocked(ctx: DemoContext, url: string, peers: readonly string[]): Promise<HttpAnswer> {
  return http(`${url}/admin/faults/partition`, {
    method: 'PUT',
    token: ctx.stack.coordinatorAdminToken,
    body: { peers },
  });
}

const outcomeOf = (a: HttpAnswer): string => a.headers.get('x-concord-outcome') ?? '-';
const describe = (a: HttpAnswer): string =>
  a.status === 0
    ? `no answer (${String(a.body)})`
    : a.status === 503
      ? `503, X-Concord-Outcome: ${outcomeOf(a)}`
      : `${a.status}${a.headers.get('x-concord-served-by') === null ? '' : ` (served by the ${a.headers.get('x-concord-served-by') ?? ''} over HTTP)`}`;

/** A linearizable write and a linearizable read against one node. */
async function writeAndRead(
  ctx: DemoContext,
  url: string,
  key: string,
  value: string,
): Promise<{ write: HttpAnswer; read: HttpAnswer }> {
  const write = await http(`${url}/v1/kv/${key}`, {
    method: 'PUT',
    token: ctx.stack.coordinatorToken,
    body: { value },
    timeoutMs: 8_000,
  });
  const read = await http(`${url}/v1/kv/${key}`, { token: ctx.stack.coordinatorToken, timeoutMs: 8_000 });
  return { write, read };
}

const refused = (a: HttpAnswer): boolean => a.status === 503 && a.headers.get('x-concord-outcome') !== null;
const served = (a: HttpAnswer): boolean => a.status === 200 || a.status === 201;

interface Registry {
  readonly stalenessMs: number | null;
  readonly lastConfirmedAt: string | null;
}

async function gatewayRegistry(ctx: DemoContext): Promise<Registry | undefined> {
  const answer = await http(`${ctx.stack.gatewayUrl}/admin/rings`, { token: ctx.stack.adminToken });
  const registry = field(answer.body, 'registry');
  if (answer.status !== 200 || field(registry, 'source') !== 'coordinator') return undefined;
  const staleness = field(registry, 'stalenessMs');
  const at = field(registry, 'lastConfirmedAt');
  return {
    stalenessMs: typeof staleness === 'number' ? staleness : null,
    lastConfirmedAt: typeof at === 'string' ? at : null,
  };
}

/** One request the gateway routes to an inventory instance by its membership (200: it routed). */
async function throughGateway(ctx: DemoContext): Promise<HttpAnswer> {
  return http(`${ctx.stack.gatewayUrl}/api/inventory/health/ready`, { token: ctx.stack.userToken });
}

/**
 * Cuts `victim` off from its peers (both sides' switches), then shows with real requests: the victim refuses
 * linearizable writes and reads with 503 + X-Concord-Outcome once it no longer knows a leader (until then it
 * forwards to the leader it knew over HTTP, which the switch does not cut: the leader's majority decides, the
 * victim acknowledges nothing on its own authority), the majority keeps serving, the gateway keeps routing;
 * then heals and waits until the victim has the others' commit index and reads what the majority wrote.
 */
async function isolate(
  ctx: DemoContext,
  victim: NodeView,
  views: readonly NodeView[],
  label: string,
): Promise<void> {
  const { narrator: n } = ctx;
  const others = views.filter((v) => v.id !== victim.id);
  const prefix = `demo/partition/${ctx.runId}/${label}`;

  n.step(`${label}: cut ${victim.id} (${victim.url}) off from ${others.map((o) => o.id).join(' and ')}`);
  const cut = [
    await setBlocked(
      ctx,
      victim.url,
      others.map((o) => o.id),
    ),
    ...(await Promise.all(others.map((o) => setBlocked(ctx, o.url, [victim.id])))),
  ];
  if (!cut.every((a) => a.status === 200)) {
    n.check(`${label}: the fault switch answers on every node`, false, cut.map((a) => a.status).join(', '));
    await Promise.all(views.map((v) => setBlocked(ctx, v.url, [])));
    return;
  }
  const cutAt = n.elapsedMs();
  n.say(
    `Raft traffic between ${victim.id} and ${others.map((o) => o.id).join(', ')} is now dropped both ways`,
  );

  // The minority: probe until both a write and a read are refused.
  let probes = 0;
  let lastSeen = '';
  let forwardedWhileCut = 0;
  const minority = await pollUntil(
    async () => {
      probes++;
      // What the node believed when the probe started (a probe may wait for its 5 s proposal/read timeout).
      const believed = await nodeView(ctx, victim.url);
      const r = await writeAndRead(ctx, victim.url, `${prefix}/minority-${probes}`, `m${probes}`);
      const seen = `write ${describe(r.write)}, read ${describe(r.read)}`;
      if (served(r.write)) forwardedWhileCut++;
      if (seen !== lastSeen) {
        n.say(
          `${victim.id} (leader it knew when asked: ${believed?.leader ?? 'none'}, term ${believed?.term ?? '?'}): ${seen}, answered ${n.elapsedMs() - cutAt} ms after the cut`,
        );
        lastSeen = seen;
      }
      return refused(r.write) && refused(r.read) ? r : undefined;
    },
    20_000,
    200,
  );
  const refusedAfterMs = n.elapsedMs() - cutAt;
  if (forwardedWhileCut > 0) {
    n.say(
      `until its election timeout ${victim.id} still knew a leader and forwarded ${forwardedWhileCut} write(s) over HTTP; the leader's majority committed them (no acknowledgement on ${victim.id}'s own authority)`,
    );
  }
  n.check(
    `${label}: the minority node ${victim.id} refuses linearizable writes and reads with 503 + X-Concord-Outcome`,
    minority !== undefined,
    minority === undefined
      ? `still not refusing after 20 s: ${lastSeen}`
      : `write ${outcomeOf(minority.write)}, read ${outcomeOf(minority.read)}, ${refusedAfterMs} ms after the cut`,
  );

  // The majority: a leader among them, and writes and reads on both.
  const majorityLeader = await pollUntil(
    async () => {
      for (const o of others) {
        const v = await nodeView(ctx, o.url);
        if (v?.leader != null && v.leader !== victim.id) return v.leader;
      }
      return undefined;
    },
    15_000,
    200,
  );
  const majorityAnswers = await Promise.all(
    others.map((o, i) => writeAndRead(ctx, o.url, `${prefix}/majority-${i}`, `M${i}`)),
  );
  for (const [i, o] of others.entries()) {
    const r = majorityAnswers[i];
    if (r !== undefined) n.say(`${o.id}: write ${describe(r.write)}, read ${describe(r.read)}`);
  }
  n.check(
    `${label}: the majority (${others.map((o) => o.id).join(', ')}) keeps serving writes and linearizable reads`,
    majorityLeader !== undefined && majorityAnswers.every((r) => served(r.write) && r.read.status === 200),
    `leader ${majorityLeader ?? 'none'}`,
  );

  // The gateway: routes from its membership; the registry view stays confirmed through the majority.
  const routed = await throughGateway(ctx);
  const registry = await gatewayRegistry(ctx);
  n.say(
    `gateway: GET /api/inventory/health/ready -> ${routed.status} (instance ${routed.headers.get('x-upstream-instance') ?? '?'}); registry last confirmed ${registry?.lastConfirmedAt ?? '?'} (${registry?.stalenessMs ?? '?'} ms ago)`,
  );
  n.check(
    `${label}: the gateway keeps routing`,
    routed.status === 200 && registry !== undefined,
    `${routed.status}, registry staleness ${registry?.stalenessMs ?? '?'} ms`,
  );

  // Heal; the victim catches up.
  n.step(`${label}: heal`);
  await Promise.all(views.map((v) => setBlocked(ctx, v.url, [])));
  const healedAt = n.elapsedMs();
  const caughtUp = await pollUntil(
    async () => {
      const vs = await allViews(ctx);
      if (vs === undefined || vs.some((v) => v.leader === null)) return undefined;
      const commits = new Set(vs.map((v) => v.commitIndex));
      return commits.size === 1 ? vs : undefined;
    },
    20_000,
    100,
  );
  const readBack = await Promise.all(
    others.map((_, i) =>
      http(`${victim.url}/v1/kv/${prefix}/majority-${i}?consistency=serializable`, {
        token: ctx.stack.coordinatorToken,
      }),
    ),
  );
  if (caughtUp !== undefined) {
    n.say(
      `${caughtUp.map((v) => `${v.id}: leader ${v.leader ?? '-'}, term ${v.term}, commit ${v.commitIndex}, applied ${v.appliedIndex}`).join(' | ')} (${n.elapsedMs() - healedAt} ms after healing)`,
    );
  }
  n.check(
    `${label}: after healing, ${victim.id} has the same commit index as the others and holds the majority's writes in its own state`,
    caughtUp !== undefined &&
      readBack.every((r, i) => r.status === 200 && field(r.body, 'value') === `M${i}`),
    caughtUp === undefined
      ? 'commit indexes still differ after 20 s'
      : `commit ${caughtUp[0]?.commitIndex ?? '?'}; local (serializable) reads on ${victim.id}: ${readBack.map((r) => r.status).join(', ')}`,
  );
}

/**
 * CAP, live. The coordinator is CP: a node cut off from a majority refuses (503 with X-Concord-Outcome) rather than
 * answer from a state it cannot confirm; the majority side keeps serving. The gateway is AP for routing: it keeps
 * routing from its last-known membership and says how stale it may be (`registry.stalenessMs` in /admin/rings).
 * Three partitions: a follower alone, the leader alone, then every node alone (no majority anywhere).
 */
export async function partition(ctx: DemoContext): Promise<void> {
  const { narrator: n, stack } = ctx;
  n.step('the coordinator cluster and the fault switch');
  const views = await allViews(ctx);
  const leaderId = views?.find((v) => v.leader !== null)?.leader ?? null;
  if (views === undefined || leaderId === null) {
    n.check(
      'every coordinator answers and a leader is known',
      false,
      'start the stack and wait for its table',
    );
    return;
  }
  for (const v of views) {
    n.say(
      `${v.id} at ${v.url}: ${v.id === leaderId ? 'leader' : 'follower'}, term ${v.term}, commit ${v.commitIndex}`,
    );
  }
  const switches = await Promise.all(
    views.map((v) =>
      http(`${v.url}/admin/faults/partition`, { token: stack.coordinatorAdminToken, timeoutMs: 2_000 }),
    ),
  );
  if (!switches.every((a) => a.status === 200)) {
    n.check(
      'the coordinators expose the fault switch (GET /admin/faults/partition with the admin token)',
      false,
      `answers ${switches.map((a) => a.status).join(', ')}: start the stack with STACK_FAULT_INJECTION=true (its default)`,
    );
    return;
  }
  n.say('fault switch present on every node (FAULT_INJECTION=true; loopback only; coordinator admin token)');

  const follower = views.find((v) => v.id !== leaderId);
  const leader = views.find((v) => v.id === leaderId);
  if (follower === undefined || leader === undefined) return;
  await isolate(ctx, follower, views, 'follower');

  // The leader may have changed; isolate whoever leads now.
  const now = await pollUntil(
    async () => {
      const vs = await allViews(ctx);
      const lead = vs?.find((v) => v.leader !== null)?.leader;
      const current = vs?.find((v) => v.id === lead);
      return vs !== undefined && current !== undefined ? { vs, current } : undefined;
    },
    15_000,
    200,
  );
  if (now === undefined) {
    n.check('a leader after healing', false, 'none within 15 s');
    return;
  }
  await isolate(ctx, now.current, now.vs, 'leader');

  // No majority anywhere: the coordinator refuses everywhere, the gateway keeps routing on a view that ages.
  n.step('no majority: every node cut off from every other');
  const ids = now.vs.map((v) => v.id);
  await Promise.all(
    now.vs.map((v) =>
      setBlocked(
        ctx,
        v.url,
        ids.filter((id) => id !== v.id),
      ),
    ),
  );
  const cutAt = n.elapsedMs();
  const everywhereRefused = await pollUntil(
    async () => {
      const answers = await Promise.all(
        now.vs.map((v) => writeAndRead(ctx, v.url, `demo/partition/${ctx.runId}/none-${v.id}`, 'x')),
      );
      return answers.every((a) => refused(a.write) && refused(a.read)) ? answers : undefined;
    },
    20_000,
    250,
  );
  n.check(
    'without a majority every node refuses writes and linearizable reads (CP: no answer rather than a guess)',
    everywhereRefused !== undefined,
    everywhereRefused === undefined
      ? 'some node still served after 20 s'
      : `${n.elapsedMs() - cutAt} ms after the cut; outcomes ${everywhereRefused.map((a) => outcomeOf(a.write)).join(', ')}`,
  );
  const staleFor = 6_000;
  const aged = await pollUntil(
    async () => {
      const r = await gatewayRegistry(ctx);
      return r?.stalenessMs != null && r.stalenessMs >= staleFor ? r : undefined;
    },
    20_000,
    500,
  );
  const routed = await throughGateway(ctx);
  n.say(
    `gateway: GET -> ${routed.status} (instance ${routed.headers.get('x-upstream-instance') ?? '?'}), registry last confirmed ${aged?.lastConfirmedAt ?? '?'}, ${aged?.stalenessMs ?? '?'} ms ago`,
  );
  n.check(
    'the gateway keeps routing from its last-known membership and reports how stale it is (AP)',
    routed.status === 200 && aged !== undefined,
    `${routed.status}; registry stalenessMs ${aged?.stalenessMs ?? '?'} (>= ${staleFor})`,
  );

  n.step('heal everything');
  await Promise.all(now.vs.map((v) => setBlocked(ctx, v.url, [])));
  const healed = await pollUntil(
    async () => {
      const vs = await allViews(ctx);
      if (vs === undefined || vs.some((v) => v.leader === null)) return undefined;
      return new Set(vs.map((v) => v.commitIndex)).size === 1 ? vs : undefined;
    },
    20_000,
    100,
  );
  const fresh = await pollUntil(
    async () => {
      const r = await gatewayRegistry(ctx);
      return r?.stalenessMs != null && r.stalenessMs < staleFor ? r : undefined;
    },
    15_000,
    500,
  );
  n.check(
    'after healing: one leader, one commit index, and the gateway confirms its view again',
    healed !== undefined && fresh !== undefined,
    healed === undefined
      ? 'no common commit index within 20 s'
      : `leader ${healed[0]?.leader ?? '?'}, commit ${healed[0]?.commitIndex ?? '?'}; registry staleness ${fresh?.stalenessMs ?? '?'} ms`,
  );
  n.say(`the demo's keys stay under demo/partition/${ctx.runId}/ (one run id per run)`);
}
