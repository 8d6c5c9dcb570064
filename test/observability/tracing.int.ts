/**
 * Tracing end to end, real processes: gateway, orders, inventory, payments and the orchestrator export their
 * spans over OTLP/HTTP to a receiver in this process (OTEL_EXPORTER_OTLP_ENDPOINT, nothing else). One saga
 * order and one 2PC order are each one trace from the gateway through orders, the orchestrator and every
 * participant, with the expected parent/child links across processes; a saga whose orchestrator was SIGKILLed
 * mid-flight continues the same trace in a span marked resumed. Needs `npm run build`.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { freePort, waitFor } from '@concord/infra';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { signJwt } from '../../apps/gateway/src/edge/jwt.js';
import { DomainApi } from '../domain/domain-api.js';
import { builtMain, type DomainStack, startDomainStack } from '../domain/domain-stack.js';
import { OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SPAN_KIND_SERVER = 2;
const SPAN_KIND_PRODUCER = 4;
const SPAN_KIND_CONSUMER = 5;

const receiver = new OtlpReceiver();
let stack: DomainStack;
let api: DomainApi;
let gatewayUrl = '';

beforeAll(async () => {
  await receiver.start();
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' };
  stack = await startDomainStack({
    env: { orders: otel, inventory: otel, payments: otel, orchestrator: otel },
  });
  const secret = randomBytes(32).toString('hex');
  const port = await freePort();
  await stack.processes.start({
    name: 'gateway',
    command: process.execPath,
    args: [builtMain('gateway')],
    cwd: ROOT,
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      STATIC_UPSTREAMS: (['orders', 'inventory', 'payments'] as const)
        .map((s) => `${s}=${s}-1@${stack.urls[s]}`)
        .join(';'),
      JWT_SECRET: secret,
      ADMIN_TOKEN: secret,
      INTERNAL_TOKEN_PRIVATE_KEY: stack.internalKeys.privateKeyPem,
      ...otel,
    },
    ready: { url: `http://127.0.0.1:${port}/health/ready`, timeoutMs: 60_000 },
  });
  const now = Math.floor(Date.now() / 1000);
  const jwt = signJwt({ sub: 'tracing', iat: now, exp: now + 3600, scope: 'admin' }, { hs256Secret: secret });
  gatewayUrl = `http://127.0.0.1:${port}`;
  api = new DomainApi((service) => `${gatewayUrl}/api/${service}`, jwt);
  await api.createProduct('tr-apple', 100, 50);
  await api.openAccount('tr-rich', 100_000);
});

afterAll(async () => {
  await stack?.stop();
  await receiver.stop();
});

/** The trace that holds the instance span of transaction `id`, once it contains every span `ready` asks for. */
async function traceOf(id: string, ready: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]> {
  return waitFor(
    () => {
      const instance = receiver.spans.find((s) => s.attributes['concord.saga.id'] === id);
      if (instance === undefined) return undefined;
      const spans = receiver.trace(instance.traceId);
      // The gateway's span ends (and is exported) after the response: wait for it too.
      return ready(spans) && spans.some((s) => s.service === 'gateway') ? spans : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100, description: `the trace of ${id}` },
  );
}

function named(spans: readonly ReceivedSpan[], name: string, service?: string): ReceivedSpan[] {
  return spans.filter((s) => s.name === name && (service === undefined || s.service === service));
}

function one(spans: readonly ReceivedSpan[], name: string, service?: string): ReceivedSpan {
  const found = named(spans, name, service);
  expect(found, `${name} in ${service ?? 'any service'}`).toHaveLength(1);
  return found[0]!;
}

function parentOf(spans: readonly ReceivedSpan[], span: ReceivedSpan): ReceivedSpan | undefined {
  return spans.find((s) => s.spanId === span.parentSpanId);
}

function isDescendant(spans: readonly ReceivedSpan[], span: ReceivedSpan, ancestor: ReceivedSpan): boolean {
  for (let at = parentOf(spans, span); at !== undefined; at = parentOf(spans, at)) {
    if (at.spanId === ancestor.spanId) return true;
  }
  return false;
}

/** Every span's parent is in the trace except the root's, which is the gateway's SERVER span. */
function expectOneTree(spans: readonly ReceivedSpan[]): ReceivedSpan {
  const roots = spans.filter((s) => s.parentSpanId === '' || parentOf(spans, s) === undefined);
  expect(roots.map((r) => `${r.service}: ${r.name}`)).toEqual(['gateway: POST /api/orders']);
  const root = roots[0]!;
  expect(root.kind).toBe(SPAN_KIND_SERVER);
  return root;
}

/** The participant's side of a step: CONSUMER span of `subject` under the step's PRODUCER span, SQL span below. */
function expectStep(
  spans: readonly ReceivedSpan[],
  instance: ReceivedSpan,
  step: string,
  subject: string,
  service: string,
  sql: string,
): void {
  const stepSpans = named(spans, `step ${step}`, 'orchestrator').filter((s) =>
    isDescendant(spans, s, instance),
  );
  expect(stepSpans.length, `step ${step}`).toBeGreaterThan(0);
  const send = named(spans, `${subject} send`, 'orchestrator').find((s) =>
    stepSpans.some((t) => t.spanId === s.parentSpanId),
  );
  expect(send?.kind, `${subject} send under step ${step}`).toBe(SPAN_KIND_PRODUCER);
  const process = named(spans, `${subject} process`, service).find((s) => s.parentSpanId === send!.spanId);
  expect(process?.kind, `${subject} process in ${service}`).toBe(SPAN_KIND_CONSUMER);
  const transaction = named(spans, sql, service).find((s) => s.parentSpanId === process!.spanId);
  expect(transaction, `${sql} in ${service}`).toBeDefined();
}

describe('tracing', () => {
  it('saga: one trace from the gateway through orders, the orchestrator and every participant', async () => {
    onTestFailed(() => stack.processes.printLogs(undefined, 40));
    const placed = await api.placeOrder('tr-rich', [{ sku: 'tr-apple', qty: 1 }], 'saga');
    expect(placed.body).toMatchObject({ status: 'CONFIRMED' });
    const id = placed.body.transactionId!;
    const spans = await traceOf(
      id,
      (s) => named(s, 'saga place-order').length === 1 && named(s, 'orders.settle process').length > 0,
    );
    const root = expectOneTree(spans);
    const ordersServer = one(spans, 'POST /v1/orders', 'orders');
    expect(ordersServer.parentSpanId).toBe(root.spanId);
    // Orders sends the start to the leading orchestrator's own subject (the queue group only when none leads).
    const startSend = one(spans, 'orchestrator.leader.start send', 'orders');
    expect(isDescendant(spans, startSend, ordersServer)).toBe(true);
    expect(named(spans, 'orchestrator.start send')).toHaveLength(0);
    const startProcess = one(spans, 'orchestrator.leader.start process', 'orchestrator');
    expect(startProcess.parentSpanId).toBe(startSend.spanId);
    const instance = one(spans, 'saga place-order', 'orchestrator');
    expect(isDescendant(spans, instance, startProcess)).toBe(true);
    expect(instance.attributes['concord.saga.status']).toBe('completed');
    expect(isDescendant(spans, one(spans, 'saga_log create', 'orchestrator'), instance)).toBe(true);
    expect(named(spans, 'saga_log transition', 'orchestrator').length).toBeGreaterThanOrEqual(3);
    expectStep(spans, instance, 'reserve-stock', 'inventory.reserve', 'inventory', 'pg transaction action');
    expectStep(spans, instance, 'hold-funds', 'payments.hold', 'payments', 'pg transaction action');
    expectStep(spans, instance, 'commit-stock', 'inventory.commit', 'inventory', 'pg transaction action');
    expectStep(spans, instance, 'capture-funds', 'payments.capture', 'payments', 'pg transaction action');
    expect(named(spans, 'orders.settle process', 'orders').length).toBeGreaterThanOrEqual(1);
    // The orchestrator's step histogram and the gateway's per-instance gauges saw it too.
    const orchestratorMetrics = await (await fetch(`${stack.orchestratorUrl!}/metrics`)).text();
    expect(orchestratorMetrics).toMatch(
      /^saga_step_duration_seconds_count\{type="place-order",step="reserve-stock",outcome="succeeded"\} [1-9]/m,
    );
    const gatewayMetrics = await (await fetch(`${gatewayUrl}/metrics`)).text();
    expect(gatewayMetrics).toMatch(/^gateway_instance_in_flight\{service="orders",instance="orders-1"\} 0$/m);
    expect(gatewayMetrics).toMatch(/^gateway_instance_ejected\{service="orders",instance="orders-1"\} 0$/m);
    // Log lines carry the trace and span ids (the orders request line names its SERVER span).
    expect(stack.handles.orders.logs()).toContain(
      `"traceId":"${root.traceId}","spanId":"${ordersServer.spanId}"`,
    );
  });

  it('2PC: the prepare and commit phases, PREPARE TRANSACTION and COMMIT PREPARED in each participant', async () => {
    onTestFailed(() => stack.processes.printLogs(undefined, 40));
    const placed = await api.placeOrder('tr-rich', [{ sku: 'tr-apple', qty: 2 }], '2pc');
    expect(placed.body).toMatchObject({ status: 'CONFIRMED' });
    const id = placed.body.transactionId!;
    const spans = await traceOf(
      id,
      (s) => named(s, '2pc place-order').length === 1 && named(s, 'orders.settle process').length > 0,
    );
    expectOneTree(spans);
    const instance = one(spans, '2pc place-order', 'orchestrator');
    expect(instance.attributes['concord.saga.status']).toBe('committed');
    // Phase one may take more than one batch (payments prepares with the prices inventory answered), each a span.
    const prepares = named(spans, '2pc prepare', 'orchestrator');
    expect(prepares.length).toBeGreaterThanOrEqual(1);
    for (const p of prepares) expect(p.parentSpanId).toBe(instance.spanId);
    const commit = one(spans, '2pc commit', 'orchestrator');
    expect(commit.parentSpanId).toBe(instance.spanId);
    expect(named(spans, '2pc abort')).toEqual([]);
    expectStep(
      spans,
      instance,
      'prepare-stock',
      'inventory.2pc.prepare',
      'inventory',
      'pg prepare transaction',
    );
    for (const step of ['step prepare-stock', 'step prepare-funds']) {
      expect(prepares.map((p) => p.spanId)).toContain(one(spans, step, 'orchestrator').parentSpanId);
    }
    expectStep(
      spans,
      instance,
      'prepare-funds',
      'payments.2pc.prepare',
      'payments',
      'pg prepare transaction',
    );
    expectStep(spans, commit, 'commit', 'inventory.2pc.commit', 'inventory', 'pg commit prepared');
    expectStep(spans, commit, 'commit', 'payments.2pc.commit', 'payments', 'pg commit prepared');
  });

  it('a saga resumed after the orchestrator was SIGKILLed continues its trace', async () => {
    onTestFailed(() => stack.processes.printLogs(undefined, 60));
    const orchestrator = stack.orchestrator!;
    const payments = stack.handles.payments;
    // Payments frozen: the saga waits on hold-funds, so the orchestrator dies with it in flight.
    payments.sigstop();
    let resumedPayments = false;
    try {
      const seen = receiver.spans.length;
      const placed = await api.placeOrder('tr-rich', [{ sku: 'tr-apple', qty: 1 }], 'saga', false);
      expect(placed.status).toBe(202);
      const orderId = placed.body.orderId;
      // reserve-stock answered and recorded: the next step, hold-funds, is in flight to the frozen payments.
      const reserved = await waitFor(
        () => receiver.spans.slice(seen).find((s) => s.name === 'step reserve-stock'),
        { timeoutMs: 30_000, intervalMs: 100, description: 'reserve-stock done' },
      );
      orchestrator.sigkill();
      await orchestrator.waitForExit(10_000);
      payments.sigcont();
      resumedPayments = true;
      await stack.start('orchestrator');
      const settled = await waitFor(
        async () => {
          const order = await api.order(orderId);
          return order.status === 'PENDING' ? undefined : order;
        },
        { timeoutMs: 60_000, intervalMs: 200, description: 'the resumed saga settles the order' },
      );
      expect(settled.status).toBe('CONFIRMED');
      const spans = await waitFor(
        () => {
          const s = receiver.trace(reserved.traceId);
          return named(s, 'saga place-order resumed').length === 1 &&
            named(s, 'orders.settle process').length > 0
            ? s
            : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 100, description: 'the resumed run in the same trace' },
      );
      // The first run's instance span was never exported (its process died); every other link is whole.
      const firstRunSpanId = reserved.parentSpanId;
      // So was its in-flight hold-funds send, whose message the thawed payments still handles.
      const roots = spans.filter(
        (s) =>
          parentOf(spans, s) === undefined &&
          s.parentSpanId !== firstRunSpanId &&
          !(s.service === 'payments' && s.name === 'payments.hold process'),
      );
      expect(roots.map((r) => `${r.service}: ${r.name}`)).toEqual(['gateway: POST /api/orders']);
      const resumed = one(spans, 'saga place-order resumed', 'orchestrator');
      expect(resumed.attributes['concord.saga.resumed']).toBe(true);
      expect(resumed.events).toContain('resumed');
      expect(resumed.attributes['concord.saga.status']).toBe('completed');
      // Its parent is the first run's instance span, as stored in the saga log.
      expect(resumed.parentSpanId).toBe(firstRunSpanId);
      expect(one(spans, 'saga_log create', 'orchestrator').parentSpanId).toBe(firstRunSpanId);
      expectStep(spans, resumed, 'capture-funds', 'payments.capture', 'payments', 'pg transaction action');
    } finally {
      if (!resumedPayments) payments.sigcont();
    }
  });
});
