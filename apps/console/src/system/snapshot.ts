/**
 * The console's picture of the whole system, assembled from what each part reports about itself. Pure: the
 * raw answers of one poll (and the previous picture) in, the new picture and what changed out. The poller
 * (live-feed.ts) does the I/O; this file decides what a person should see.
 */

/** One coordinator node as it answered `GET /v1/cluster`, or why it did not. */
export type NodeAnswer =
  | {
      readonly url: string;
      readonly ok: true;
      readonly view: {
        readonly id: string;
        readonly leader: string | null;
        readonly term: number;
        readonly commitIndex: number;
        readonly appliedIndex: number;
        readonly members: readonly {
          readonly id: string;
          readonly role: string;
          readonly matchIndex: number | null;
          readonly apiUrl: string | null;
        }[];
      };
    }
  | { readonly url: string; readonly ok: false; readonly error: string };

export interface RingInstanceAnswer {
  readonly id: string;
  readonly url: string;
  readonly weight: number;
  readonly keyShare: number;
  readonly inFlight: number;
  readonly healthy: boolean;
  readonly ejected: boolean;
  readonly breaker: string;
}

export interface RingsAnswer {
  readonly algorithm: string;
  readonly services: readonly {
    readonly service: string;
    readonly algorithm?: string;
    readonly panic: boolean;
    readonly instances: readonly RingInstanceAnswer[];
  }[];
}

export interface StepAnswer {
  readonly step: string;
  readonly status: string;
  readonly attempts: number;
  readonly startedAt: string;
  readonly finishedAt: string | null;
}

export interface TransactionAnswer {
  readonly id: string;
  readonly type: string;
  readonly mode: string;
  readonly status: string;
  readonly reason?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly steps?: readonly StepAnswer[];
}

/** Everything one poll brought back. A part that did not answer carries its error instead. */
export interface PollResult {
  readonly atMs: number;
  readonly coordinators: readonly NodeAnswer[];
  readonly rings:
    { readonly ok: true; readonly value: RingsAnswer } | { readonly ok: false; readonly error: string };
  /** Proxied requests counted by the gateway so far, per upstream instance id (from its /metrics). */
  readonly requestCounts: ReadonlyMap<string, number> | undefined;
  readonly transactions:
    | { readonly ok: true; readonly items: readonly TransactionAnswer[] }
    | { readonly ok: false; readonly error: string };
}

export interface MemberView {
  readonly id: string;
  /** leader | follower | learner | down | unknown (in the configuration, never answered). */
  readonly role: string;
  readonly up: boolean;
  readonly term: number | null;
  readonly commitIndex: number | null;
  readonly appliedIndex: number | null;
  readonly url: string | null;
  readonly error?: string;
}

export interface ClusterView {
  readonly leader: string | null;
  readonly term: number | null;
  readonly members: readonly MemberView[];
  /** Members that answered and agree on the leader of the highest term they report. */
  readonly quorumUp: boolean;
}

export interface InstanceView extends RingInstanceAnswer {
  /** Requests per second through the gateway to this instance since the previous poll (null: unknown). */
  readonly requestsPerSecond: number | null;
}

export interface ServiceRingView {
  readonly service: string;
  readonly algorithm: string;
  readonly panic: boolean;
  readonly instances: readonly InstanceView[];
}

export interface ConsoleSnapshot {
  readonly atMs: number;
  readonly cluster: ClusterView;
  /** The most recent leader any poll saw, kept through polls that found none, so a change is named old → new. */
  readonly lastLeader: string | null;
  readonly rings: readonly ServiceRingView[];
  readonly ringsError?: string;
  readonly transactions: readonly TransactionAnswer[];
  readonly transactionsError?: string;
}

export type ConsoleEventKind =
  | 'leader-elected'
  | 'leader-lost'
  | 'member-down'
  | 'member-up'
  | 'instance-ejected'
  | 'instance-restored'
  | 'breaker-changed'
  | 'instance-joined'
  | 'instance-left'
  | 'transaction-settled';

export interface ConsoleEvent {
  readonly atMs: number;
  readonly kind: ConsoleEventKind;
  /** warn for what an operator should look at (a node down, a breaker open); info otherwise. */
  readonly level: 'info' | 'warn';
  readonly message: string;
}

const SETTLED = new Set(['completed', 'compensated', 'committed', 'aborted', 'failed']);

/** Builds the cluster view: each node's own answer first, then members only others know about. */
export function clusterOf(coordinators: readonly NodeAnswer[]): ClusterView {
  const answered = coordinators.filter((c): c is Extract<NodeAnswer, { ok: true }> => c.ok);
  const topTerm = answered.reduce((t, a) => Math.max(t, a.view.term), -1);
  const leaders = new Set(
    answered.filter((a) => a.view.term === topTerm && a.view.leader !== null).map((a) => a.view.leader),
  );
  const leader = leaders.size === 1 ? ([...leaders][0] ?? null) : null;
  const members = new Map<string, MemberView>();
  const configured = new Map<string, { role: string; apiUrl: string | null }>();
  for (const a of answered) for (const m of a.view.members) configured.set(m.id, m);

  for (const a of answered) {
    const own = configured.get(a.view.id);
    const role =
      a.view.id === leader && a.view.term === topTerm
        ? 'leader'
        : own?.role === 'learner'
          ? 'learner'
          : 'follower';
    members.set(a.view.id, {
      id: a.view.id,
      role,
      up: true,
      term: a.view.term,
      commitIndex: a.view.commitIndex,
      appliedIndex: a.view.appliedIndex,
      url: a.url,
    });
  }
  // A node that did not answer: name it by the member whose API URL it is, or by its URL.
  for (const c of coordinators) {
    if (c.ok) continue;
    const member = [...configured.entries()].find(
      ([, m]) => m.apiUrl !== null && sameOrigin(m.apiUrl, c.url),
    );
    const id = member?.[0] ?? c.url;
    if (members.has(id)) continue;
    members.set(id, {
      id,
      role: 'down',
      up: false,
      term: null,
      commitIndex: null,
      appliedIndex: null,
      url: c.url,
      error: c.error,
    });
  }
  for (const [id, m] of configured) {
    if (members.has(id)) continue;
    members.set(id, {
      id,
      role: 'unknown',
      up: false,
      term: null,
      commitIndex: null,
      appliedIndex: null,
      url: m.apiUrl,
    });
  }
  const list = [...members.values()].sort((a, b) => a.id.localeCompare(b.id));
  const voters = list.filter((m) => m.role !== 'learner');
  const upVoters = voters.filter((m) => m.up).length;
  return {
    leader,
    term: topTerm < 0 ? null : topTerm,
    members: list,
    quorumUp: leader !== null && upVoters > voters.length / 2,
  };
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** The rings with each instance's request rate since the previous poll. */
export function ringsOf(
  rings: RingsAnswer,
  counts: ReadonlyMap<string, number> | undefined,
  previousCounts: ReadonlyMap<string, number> | undefined,
  elapsedMs: number,
): ServiceRingView[] {
  return rings.services.map((s) => ({
    service: s.service,
    algorithm: s.algorithm ?? rings.algorithm,
    panic: s.panic,
    instances: s.instances.map((i) => {
      const now = counts?.get(i.id);
      const before = previousCounts?.get(i.id);
      const rate =
        now === undefined || elapsedMs <= 0
          ? null
          : before === undefined
            ? null
            : Math.max(0, ((now - before) * 1000) / elapsedMs);
      return { ...i, requestsPerSecond: rate };
    }),
  }));
}

/** Assembles the new snapshot and lists what changed since the previous one. */
export function assemble(
  poll: PollResult,
  previous: { snapshot: ConsoleSnapshot; counts: ReadonlyMap<string, number> | undefined } | undefined,
): { snapshot: ConsoleSnapshot; events: ConsoleEvent[] } {
  const cluster = clusterOf(poll.coordinators);
  const elapsed = previous === undefined ? 0 : poll.atMs - previous.snapshot.atMs;
  const rings = poll.rings.ok ? ringsOf(poll.rings.value, poll.requestCounts, previous?.counts, elapsed) : [];
  const snapshot: ConsoleSnapshot = {
    atMs: poll.atMs,
    cluster,
    lastLeader: cluster.leader ?? previous?.snapshot.lastLeader ?? null,
    rings,
    ...(poll.rings.ok ? {} : { ringsError: poll.rings.error }),
    transactions: poll.transactions.ok ? poll.transactions.items : (previous?.snapshot.transactions ?? []),
    ...(poll.transactions.ok ? {} : { transactionsError: poll.transactions.error }),
  };
  return { snapshot, events: previous === undefined ? [] : changes(previous.snapshot, snapshot) };
}

/** What a person should notice between two snapshots, in the order it should be read. */
export function changes(before: ConsoleSnapshot, after: ConsoleSnapshot): ConsoleEvent[] {
  const at = after.atMs;
  const events: ConsoleEvent[] = [];
  const push = (kind: ConsoleEventKind, level: 'info' | 'warn', message: string) =>
    events.push({ atMs: at, kind, level, message });

  const b = before.cluster;
  const a = after.cluster;
  for (const m of a.members) {
    const was = b.members.find((x) => x.id === m.id);
    if (was?.up === true && !m.up) push('member-down', 'warn', `coordinator ${m.id} stopped answering`);
    if (was !== undefined && !was.up && m.up) push('member-up', 'info', `coordinator ${m.id} is back`);
  }
  if (a.leader !== b.leader) {
    // Between the old leader's death and an election, polls see no leader; the change is still old → new.
    const was = b.leader ?? before.lastLeader;
    if (a.leader === null) push('leader-lost', 'warn', `no leader (was ${was ?? 'none'})`);
    else if (a.leader !== was)
      push(
        'leader-elected',
        was === null ? 'info' : 'warn',
        `leader ${was ?? 'none'} → ${a.leader} (term ${a.term ?? '?'})`,
      );
    else push('leader-elected', 'info', `leader ${a.leader} again (term ${a.term ?? '?'})`);
  }

  const instancesBefore = new Map(
    before.rings.flatMap((s) => s.instances.map((i) => [`${s.service}/${i.id}`, i])),
  );
  const instancesAfter = new Map(
    after.rings.flatMap((s) => s.instances.map((i) => [`${s.service}/${i.id}`, i])),
  );
  // A poll that failed to reach the gateway says nothing about instances.
  if (after.ringsError === undefined && before.ringsError === undefined) {
    for (const [key, i] of instancesAfter) {
      const was = instancesBefore.get(key);
      if (was === undefined) {
        push('instance-joined', 'info', `${key} joined the ring`);
        continue;
      }
      if (!was.ejected && i.ejected) push('instance-ejected', 'warn', `${key} ejected (failing health)`);
      if (was.ejected && !i.ejected) push('instance-restored', 'info', `${key} back in rotation`);
      if (was.breaker !== i.breaker)
        push(
          'breaker-changed',
          i.breaker === 'open' ? 'warn' : 'info',
          `${key} breaker ${was.breaker} → ${i.breaker}`,
        );
    }
    for (const key of instancesBefore.keys()) {
      if (!instancesAfter.has(key)) push('instance-left', 'warn', `${key} left the ring`);
    }
  }

  const txBefore = new Map(before.transactions.map((t) => [t.id, t]));
  for (const t of after.transactions) {
    const was = txBefore.get(t.id);
    if (SETTLED.has(t.status) && (was === undefined ? false : !SETTLED.has(was.status))) {
      const reason = t.reason === undefined ? '' : `: ${t.reason}`;
      push(
        'transaction-settled',
        t.status === 'failed' ? 'warn' : 'info',
        `${t.mode} ${t.id.slice(0, 8)} ${t.type} ${t.status}${reason}`,
      );
    }
  }
  return events;
}

export function isSettled(status: string): boolean {
  return SETTLED.has(status);
}
