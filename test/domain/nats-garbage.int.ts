/**
 * Garbage on every participant subject (inventory, payments, orders), sent as the orchestrator, the only user NATS
 * lets send there: bytes that are not JSON, JSON that is not a request packet, packets whose data has the wrong
 * shape, and payloads near NATS's 1 MiB limit. A message without a reply subject is dropped; a request gets a clear
 * error at once (never silence, never a timeout); no process exits, and every service keeps serving real commands.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsInboxPrefix, SUBJECT_SENDERS, type Subject } from '@concord/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DomainStack, isBuilt, startDomainStack } from './domain-stack.js';

const PARTICIPANT_SUBJECTS = (Object.keys(SUBJECT_SENDERS) as Subject[]).filter(
  (s) => !s.startsWith('orchestrator.'),
);
/** Just under nats-server's default max_payload (1 MiB), with room for the packet around it. */
const HUGE_BYTES = 1_000_000;

/** Payloads that are not a request packet at all. */
const GARBAGE: readonly (string | Uint8Array)[] = [
  'x',
  '',
  '{',
  'null',
  '[]',
  '42',
  '"text"',
  '{"pattern":1}',
  '{"data":{}}',
  new Uint8Array([0xff, 0xfe, 0x00, 0x01, 0x80]),
  '['.repeat(100_000),
  'x'.repeat(HUGE_BYTES),
];

/** Well-formed packets whose `data` has the wrong shape for every command. */
function wrongShapes(subject: string): string[] {
  const packet = (data: unknown, id: string) => JSON.stringify({ pattern: subject, data, id });
  const envelope = (payload: unknown) => ({ messageId: 'm-1', transactionId: 't-1', step: 's', payload });
  return [
    packet(null, 'a'),
    packet(42, 'b'),
    packet('text', 'c'),
    packet([], 'd'),
    packet({}, 'e'),
    packet({ messageId: 5, transactionId: [], step: {}, payload: 'x' }, 'f'),
    packet(envelope(null), 'g'),
    packet(
      envelope({ orderId: 7, items: 'many', customerId: null, amountCents: '100', gid: 1, status: 'MAYBE' }),
      'h',
    ),
    packet(
      envelope({ orderId: ['o-1'], items: [{ sku: 1, qty: -5 }], amountCents: -1e308, status: 'CONFIRMED' }),
      'i',
    ),
    packet({ ...envelope({ orderId: 'o-1' }), fencingToken: 'not-a-number' }, 'j'),
    packet(envelope({ orderId: 'o'.repeat(HUGE_BYTES - 200), items: [] }), 'k'),
    packet(
      { ...envelope({}), __proto__: { polluted: true }, constructor: { prototype: { polluted: true } } },
      'l',
    ),
  ];
}

/** A clear error in Nest's wire format: a transport error (`err`) or a refusal (`response.ok === false`). */
function errorOf(answer: string): string | undefined {
  let parsed: { err?: unknown; response?: { ok?: unknown; reason?: unknown } };
  try {
    parsed = JSON.parse(answer) as typeof parsed;
  } catch {
    return undefined;
  }
  if (typeof parsed.err === 'string' && parsed.err !== '') return parsed.err;
  if (typeof parsed.err === 'object' && parsed.err !== null) return JSON.stringify(parsed.err);
  if (parsed.response?.ok === false && typeof parsed.response.reason === 'string')
    return parsed.response.reason;
  return undefined;
}

const built = ['orders', 'inventory', 'payments'].every(isBuilt);
let stack: DomainStack;
let nc: NatsConnection;

beforeAll(async () => {
  if (!built) throw new Error('run `npm run build` first: this test starts the built services');
  stack = await startDomainStack({ orchestrator: false });
  nc = await connect({
    servers: [stack.nats.url],
    user: 'orchestrator',
    pass: stack.natsPasswords.orchestrator,
    inboxPrefix: natsInboxPrefix('orchestrator'),
  });
}, 120_000);

afterAll(async () => {
  await nc?.close().catch(() => undefined);
  await stack?.stop();
});

describe.each(PARTICIPANT_SUBJECTS)('garbage on %s', (subject) => {
  it('is dropped without a reply subject, and answered with a clear error with one', async () => {
    const payloads = [...GARBAGE, ...wrongShapes(subject)];
    const unclear: string[] = [];
    for (const [i, payload] of payloads.entries()) {
      nc.publish(subject, payload);
      const answer = await nc.request(subject, payload, { timeout: 5_000 });
      const error = errorOf(answer.string());
      if (error === undefined) unclear.push(`#${i}: ${answer.string().slice(0, 200)}`);
    }
    expect(unclear).toEqual([]);
  }, 120_000);
});

describe('after the garbage', () => {
  it('no process exited and every service is ready', async () => {
    for (const [app, url] of Object.entries(stack.urls)) {
      const ready = await fetch(`${url}/health/ready`);
      expect(ready.status, app).toBe(200);
    }
    for (const process of stack.processes.processes) expect(process.exit, process.name).toBeUndefined();
  });

  it('every participant still answers a real command', async () => {
    const packet = (s: string, payload: unknown) =>
      JSON.stringify({
        pattern: s,
        id: `real-${s}`,
        data: { messageId: `real-${s}`, transactionId: 'after-garbage', step: 'probe', payload },
      });
    // Commands about an order nobody knows: each participant answers with a reply of the message map, not an error.
    const probes: [Subject, unknown][] = [
      ['inventory.release', { orderId: 'after-garbage' }],
      ['payments.release', { orderId: 'after-garbage' }],
      ['inventory.reserve', { orderId: 'after-garbage', items: [{ sku: 'no-such-sku', qty: 1 }] }],
    ];
    for (const [subject, payload] of probes) {
      const answer = (await nc.request(subject, packet(subject, payload), { timeout: 5_000 })).json<{
        response?: { ok: boolean };
        err?: unknown;
      }>();
      expect(answer.err, subject).toBeUndefined();
      expect(typeof answer.response?.ok, subject).toBe('boolean');
    }
  });
});
