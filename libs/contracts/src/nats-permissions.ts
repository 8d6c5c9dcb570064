import type { Subject } from './messages.js';
import { DOMAIN_SERVICES, type ServiceTopology } from './topology.js';

/**
 * Who may say what on NATS: one place, derived from the message map, that the stack, the test harness and
 * docker/compose turn into nats-server users with publish/subscribe permissions.
 *
 * A subject `<service>.<verb>` is addressed to `<service>` (only it may subscribe); {@link SUBJECT_SENDERS} names
 * who may publish it. Replies need no rule of their own: each user may publish to the reply subject of a
 * request it received (`allow_responses`), and receives replies on its own inbox prefix (`_INBOX_<user>.`), which
 * no other user may subscribe to, so nobody reads anybody else's answers.
 *
 * Every domain service of the topology is a NATS user. A service made by `npm run new:service` keeps its commands in
 * its own `<service>.messages.ts` until a workflow sends them; until they join the message map, everything under
 * `<service>.>` is addressed to it and only the orchestrator may send there.
 */

export const NATS_USERS = ['orders', 'inventory', 'payments', 'orchestrator'] as const;
export type NatsUser = (typeof NATS_USERS)[number];

/** The publishers of each subject of the message map (its receiver is the subject's first segment). */
export const SUBJECT_SENDERS: { readonly [S in Subject]: readonly NatsUser[] } = {
  'inventory.reserve': ['orchestrator'],
  'inventory.release': ['orchestrator'],
  'inventory.commit': ['orchestrator'],
  'payments.hold': ['orchestrator'],
  'payments.release': ['orchestrator'],
  'payments.capture': ['orchestrator'],
  'orders.settle': ['orchestrator'],
  'inventory.2pc.prepare': ['orchestrator'],
  'inventory.2pc.commit': ['orchestrator'],
  'inventory.2pc.abort': ['orchestrator'],
  'payments.2pc.prepare': ['orchestrator'],
  'payments.2pc.commit': ['orchestrator'],
  'payments.2pc.abort': ['orchestrator'],
  'orchestrator.start': ['orders'],
  'orchestrator.2pc.decision': ['inventory', 'payments'],
};

/**
 * Orders instances tell each other that an order settled (`orders.settled.<orderId>`, empty body, core NATS), so
 * a `?wait=true` request is woken on whichever instance holds it.
 */
export const ORDERS_SETTLED_PREFIX = 'orders.settled.';

/**
 * Subjects only the leading orchestrator instance subscribes to, in plain JSON (no Nest packet). A follower that
 * takes `orchestrator.start` or a decision query from the queue group relays it here; orders sends its starts here
 * first, skipping that hop, and falls back to `orchestrator.start` when nobody leads (no responders).
 * A reply is the subject's `Reply`, or {@link LeaderRetry} when the leader failed to handle the message.
 */
export const ORCHESTRATOR_LEADER_SUBJECTS = {
  start: 'orchestrator.leader.start',
  decision: 'orchestrator.leader.decision',
} as const;

/** The leader's answer when handling failed (not a refusal): the sender sends it again later. */
export interface LeaderRetry {
  readonly ok: false;
  readonly retry: true;
  readonly reason: string;
}

/** Whether a leader subject's answer is a {@link LeaderRetry}. */
export function isLeaderRetry(answer: unknown): answer is LeaderRetry {
  return typeof answer === 'object' && answer !== null && (answer as { retry?: unknown }).retry === true;
}

/**
 * Subjects outside the message map: the orchestrator's follower-to-leader relay (`orchestrator.leader.*`; orders
 * sends its starts straight to `orchestrator.leader.start`), its lifecycle events, published to JetStream
 * (`saga.events.>`) with the stream created through the JetStream API, and the orders instances' settle
 * announcements.
 */
const EXTRA_PUBLISH: { readonly [U in NatsUser]: readonly string[] } = {
  orders: [`${ORDERS_SETTLED_PREFIX}*`, ORCHESTRATOR_LEADER_SUBJECTS.start],
  inventory: [],
  payments: [],
  orchestrator: [
    'orchestrator.leader.*',
    'saga.events.>',
    '$JS.API.INFO',
    '$JS.API.STREAM.CREATE.SAGA_EVENTS',
    '$JS.API.STREAM.INFO.SAGA_EVENTS',
  ],
};

export interface NatsUserPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** The inbox prefix a user's connections must use (ConnectionOptions.inboxPrefix). */
export function natsInboxPrefix(user: string): string {
  return `_INBOX_${user}`;
}

/** Every NATS user: the senders of the message map and every domain service of `services` (pure). */
export function natsUserNames(services: readonly ServiceTopology[] = DOMAIN_SERVICES): string[] {
  return [...new Set<string>([...NATS_USERS, ...services.map((s) => s.app)])];
}

/** Services of `services` that receive no subject of the message map yet (made by `npm run new:service`). */
function servicesOutsideMessageMap(services: readonly ServiceTopology[]): string[] {
  const receivers = new Set(Object.keys(SUBJECT_SENDERS).map((s) => s.split('.')[0]));
  return natsUserNames(services).filter((user) => !receivers.has(user) && user !== 'orchestrator');
}

/**
 * A user's permissions: publish what it sends, subscribe to what is addressed to it and to its own inbox. `services`
 * is the topology (default: DOMAIN_SERVICES); a generator passes the one it is about to write.
 */
export function natsPermissions(
  user: string,
  services: readonly ServiceTopology[] = DOMAIN_SERVICES,
): NatsUserPermissions {
  const subjects = Object.keys(SUBJECT_SENDERS) as Subject[];
  const provisional = servicesOutsideMessageMap(services);
  const publish: string[] = subjects.filter((s) => (SUBJECT_SENDERS[s] as readonly string[]).includes(user));
  const subscribe: string[] = subjects.filter((s) => s.split('.')[0] === user);
  if (user === 'orchestrator') {
    subscribe.push('orchestrator.leader.*');
    publish.push(...provisional.map((service) => `${service}.>`));
  }
  if (user === 'orders') subscribe.push(`${ORDERS_SETTLED_PREFIX}*`);
  if (provisional.includes(user)) subscribe.push(`${user}.>`);
  const extra = (EXTRA_PUBLISH as Readonly<Record<string, readonly string[]>>)[user] ?? [];
  return {
    publish: [...publish, ...extra],
    subscribe: [...subscribe, `${natsInboxPrefix(user)}.>`],
  };
}

/** Every NATS user with its password and permissions, in the shape `startNats({ users })` takes. */
export function natsUserConfigs(
  passwords: Readonly<Record<string, string>>,
  services: readonly ServiceTopology[] = DOMAIN_SERVICES,
): Array<{ user: string; password: string; publish: readonly string[]; subscribe: readonly string[] }> {
  return natsUserNames(services).map((user) => {
    const password = passwords[user];
    if (password === undefined) throw new Error(`no NATS password for user ${user}`);
    return { user, password, ...natsPermissions(user, services) };
  });
}
