/**
 * The security suite: every endpoint of every service, taken from its OpenAPI document and checked against the
 * policy table (endpoint-policy.ts), is tried without a credential, with broken credentials, with the wrong
 * subject and with the wrong scope; then with property-based malformed bodies, parameters and headers
 * (fast-check), which must get a 4xx problem body, never a 5xx, never kill a process, and change nothing. The
 * probes of issue 14 are regression tests at the end. Prints the number of endpoint x case combinations tried.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import {
  generateInternalTokenKeyPair,
  mintInternalToken,
  parseInternalTokenPrivateKey,
} from '@concord/platform';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { type DomainStack, startDomainStack } from '../domain/domain-stack.js';
import { readSnapshot } from '../domain/invariants.js';
import {
  ENDPOINTS,
  type Endpoint,
  type Fixture,
  PLATFORM_PATHS,
  type SecuredApp,
} from './endpoint-policy.js';

let stack: DomainStack;
let fixture: Fixture;
const urls = {} as Record<SecuredApp, string>;
const tried = new Map<string, number>();

function count(endpoint: Endpoint, kase: string, n = 1): void {
  const key = `${endpoint.app} ${endpoint.method} ${endpoint.path} :: ${kase}`;
  tried.set(key, (tried.get(key) ?? 0) + n);
}

interface Answer {
  status: number;
  contentType: string;
  body: unknown;
}

async function call(
  app: SecuredApp,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined && headers['content-type'] === undefined)
    headers['content-type'] = 'application/json';
  const response = await fetch(`${urls[app]}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text, and the problem-body assertion below fails on it
  }
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', body: parsed };
}

const token = (app: string, subject: string, scopes: readonly string[]) => stack.token(app, subject, scopes);
const admin = (app: string) => token(app, 'sec-admin', ['admin']);

function expectProblem(answer: Answer, status?: number): void {
  if (status !== undefined) expect(answer.status).toBe(status);
  expect(answer.status).toBeGreaterThanOrEqual(400);
  expect(answer.status).toBeLessThan(500);
  expect(answer.contentType).toMatch(/application\/problem\+json/);
  expect((answer.body as { status?: unknown }).status).toBe(answer.status);
}

function expectAllAlive(): void {
  for (const handle of stack.processes.processes) expect(handle.exit, handle.name).toBeUndefined();
}

beforeAll(async () => {
  stack = await startDomainStack();
  urls.orders = stack.urls.orders;
  urls.inventory = stack.urls.inventory;
  urls.payments = stack.urls.payments;
  urls.orchestrator = stack.orchestratorUrl ?? '';
  const customer = 'sec-alice';
  const sku = 'sec-apple';
  expect(
    (
      await call('inventory', 'POST', '/v1/products', {
        token: await admin('inventory'),
        body: { sku, name: 'apple', priceCents: 10, stock: 1_000 },
      })
    ).status,
  ).toBe(201);
  const alice = (app: string) => token(app, customer, ['customer']);
  expect(
    (
      await call('payments', 'POST', '/v1/accounts', {
        token: await alice('payments'),
        body: { customerId: customer },
      })
    ).status,
  ).toBe(201);
  expect(
    (
      await call('payments', 'POST', `/v1/accounts/${customer}/deposits`, {
        token: await admin('payments'),
        body: { amountCents: 1_000_000 },
      })
    ).status,
  ).toBe(201);
  const placed = await call('orders', 'POST', '/v1/orders?wait=true', {
    token: await alice('orders'),
    body: { customerId: customer, items: [{ sku, qty: 1 }], mode: 'saga' },
  });
  expect(placed.status).toBe(200);
  const orderId = (placed.body as { orderId: string }).orderId;
  const sagas = await call('orchestrator', 'GET', '/v1/sagas?limit=1', {
    token: await admin('orchestrator'),
  });
  const sagaId = (sagas.body as { items: Array<{ id: string }> }).items[0]?.id ?? '';
  fixture = { customer, sku, orderId, sagaId };
});

afterAll(async () => {
  const total = [...tried.values()].reduce((a, b) => a + b, 0);
  const combos = tried.size;
  process.stdout.write(
    `\nsecurity suite: ${ENDPOINTS.length} endpoints, ${combos} endpoint x case combinations, ${total} requests\n`,
  );
  await stack?.stop();
});

describe('the route table', () => {
  it('lists exactly the endpoints the policy table decides on, in every OpenAPI document', async () => {
    const listed: string[] = [];
    for (const app of ['orders', 'inventory', 'payments', 'orchestrator'] as const) {
      const docs = await call(app, 'GET', '/docs-json', { token: await admin(app) });
      expect(docs.status).toBe(200);
      const paths = (docs.body as { paths: Record<string, Record<string, unknown>> }).paths;
      for (const [path, operations] of Object.entries(paths)) {
        if (PLATFORM_PATHS.has(path)) continue;
        for (const method of Object.keys(operations)) listed.push(`${app} ${method.toUpperCase()} ${path}`);
      }
    }
    expect(listed.sort()).toEqual(ENDPOINTS.map((e) => `${e.app} ${e.method} ${e.path}`).sort());
  });
});

describe.each(ENDPOINTS.map((e) => [`${e.app} ${e.method} ${e.path}`, e] as const))(
  '%s',
  (_name, endpoint) => {
    const request = (nonce = randomUUID()) => endpoint.valid(fixture, nonce);

    it('refuses a missing, malformed, forged, expired or misaddressed credential (401)', async () => {
      onTestFailed(() => stack.processes.printLogs(undefined, 40));
      const r = request();
      const send = (headers: Record<string, string>) =>
        call(endpoint.app, endpoint.method, r.path, { body: r.body, headers: { ...r.headers, ...headers } });
      const other = generateInternalTokenKeyPair();
      const forged = await mintInternalToken(parseInternalTokenPrivateKey(other.privateKeyPem), {
        subject: 'sec-admin',
        audience: endpoint.app,
        scopes: ['admin'],
      });
      const expired = await mintInternalToken(parseInternalTokenPrivateKey(other.privateKeyPem), {
        subject: 'sec-admin',
        audience: endpoint.app,
        scopes: ['admin'],
        nowMs: Date.now() - 3_600_000,
      });
      const wrongAudience = endpoint.app === 'orders' ? 'payments' : 'orders';
      const valid = await admin(endpoint.app);
      const [head, payload, signature] = valid.split('.');
      const cases: Record<string, Record<string, string>> = {
        'no credential': {},
        'empty bearer': { authorization: 'Bearer ' },
        'basic scheme': { authorization: 'Basic c2VjOnNlYw==' },
        'garbage token': { authorization: 'Bearer not.a.token' },
        'forged signature (other key)': { authorization: `Bearer ${forged}` },
        'expired (other key)': { authorization: `Bearer ${expired}` },
        'alg none': { authorization: `Bearer ${head}.${payload}.` },
        'tampered payload': { authorization: `Bearer ${head}.${payload}x.${signature}` },
        'another service as audience': { authorization: `Bearer ${await admin(wrongAudience)}` },
        'the static token of old': { authorization: 'Bearer domain-test-api-token-0123456789' },
      };
      for (const [name, headers] of Object.entries(cases)) {
        const answer = await send(headers);
        expect(answer.status, name).toBe(401);
        expectProblem(answer, 401);
        count(endpoint, `401 ${name}`);
      }
    });

    if (endpoint.policy === 'admin') {
      it('refuses a customer-scoped token, even for its own customer (403)', async () => {
        const r = request();
        const answer = await call(endpoint.app, endpoint.method, r.path, {
          token: await token(endpoint.app, fixture.customer, ['customer']),
          body: r.body,
          ...(r.headers === undefined ? {} : { headers: r.headers }),
        });
        expectProblem(answer, 403);
        count(endpoint, '403 wrong scope');
      });
    }

    if (endpoint.policy === 'customer') {
      it('refuses another customer (403) and a token without a known scope (403)', async () => {
        const r = request();
        const headers = r.headers === undefined ? {} : { headers: r.headers };
        const mallory = await call(endpoint.app, endpoint.method, r.path, {
          token: await token(endpoint.app, 'sec-mallory', ['customer']),
          body: r.body,
          ...headers,
        });
        expectProblem(mallory, 403);
        count(endpoint, '403 wrong subject');
        const noScope = await call(endpoint.app, endpoint.method, r.path, {
          token: await token(endpoint.app, fixture.customer, ['reader']),
          body: r.body,
          ...headers,
        });
        expectProblem(noScope, 403);
        count(endpoint, '403 wrong scope');
      });
    }
  },
);

describe('malformed requests (property-based)', () => {
  const runs = 25;
  const garbageString = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 100 }),
    fc.constantFrom(
      '',
      ' ',
      '..',
      '%00',
      '../../etc/passwd',
      "' OR 1=1 --",
      '__proto__',
      'constructor',
      'x'.repeat(5_000),
    ),
  );

  it.each(ENDPOINTS.map((e) => [`${e.app} ${e.method} ${e.path}`, e] as const))(
    '%s: 4xx problem bodies, no 5xx, no crash, nothing changed',
    async (_name, endpoint) => {
      onTestFailed(() => stack.processes.printLogs(undefined, 60));
      const before = JSON.stringify(await readSnapshot(stack.databaseUrls));
      const adminToken = await admin(endpoint.app);
      const customerToken = await token(endpoint.app, fixture.customer, ['customer']);
      const tokenFor = endpoint.policy === 'admin' ? adminToken : customerToken;
      const r = endpoint.valid(fixture, 'fuzz');
      const check = async (answer: Answer, what: string) => {
        expect(answer.status, `${what}: ${JSON.stringify(answer.body).slice(0, 300)}`).toBeGreaterThanOrEqual(
          400,
        );
        expectProblem(answer);
      };

      if (endpoint.method === 'POST') {
        // Bodies: any JSON value (never the right shape), and text that is not JSON at all.
        await fc.assert(
          fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (body) => {
            await check(
              await call(endpoint.app, 'POST', r.path, {
                token: tokenFor,
                body,
                ...(r.headers ? { headers: { ...r.headers, 'idempotency-key': `f-${randomUUID()}` } } : {}),
              }),
              'json body',
            );
          }),
          { numRuns: runs },
        );
        count(endpoint, '4xx malformed JSON body', runs);
        await fc.assert(
          fc.asyncProperty(
            garbageString,
            fc.constantFrom(
              'application/json',
              'text/plain',
              'application/x-www-form-urlencoded',
              'application/octet-stream',
            ),
            async (raw, contentType) => {
              const answer = await call(endpoint.app, 'POST', r.path, {
                token: tokenFor,
                raw,
                headers: { ...r.headers, 'content-type': contentType },
              });
              await check(answer, `raw body as ${contentType}`);
            },
          ),
          { numRuns: runs },
        );
        count(endpoint, '4xx non-JSON body', runs);
      }

      // Path parameters: each {param} replaced by garbage (percent-encoded, as a client must send it).
      const params = [...endpoint.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '');
      if (params.length > 0) {
        await fc.assert(
          fc.asyncProperty(
            garbageString.filter((s) => s.length > 0),
            async (value) => {
              let path = endpoint.path;
              for (const p of params) path = path.replace(`{${p}}`, encodeURIComponent(value));
              // a garbage `type` of a saga or a garbage id is refused, never started or looked up as-is
              const answer = await call(endpoint.app, endpoint.method, path, {
                token: tokenFor,
                ...(r.body === undefined ? {} : { body: r.body }),
                ...(r.headers === undefined
                  ? {}
                  : { headers: { ...r.headers, 'idempotency-key': `f-${randomUUID()}` } }),
              });
              await check(answer, `param ${value}`);
            },
          ),
          { numRuns: runs },
        );
        count(endpoint, '4xx malformed path parameter', runs);
      }

      // Query strings (where the endpoint reads one): unknown keys, bad limits and cursors.
      if (endpoint.query === true) {
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom('limit', 'cursor', 'customerId', 'wait', 'state', 'type', '__proto__', 'x'),
            garbageString,
            async (key, value) => {
              const sep = r.path.includes('?') ? '&' : '?';
              const path = `${r.path}${sep}${encodeURIComponent(key)}=${encodeURIComponent(value)}&limit=0`;
              const answer = await call(endpoint.app, endpoint.method, path, {
                token: tokenFor,
                ...(endpoint.method === 'POST' ? { body: { unexpected: value } } : {}),
                ...(r.headers === undefined
                  ? {}
                  : { headers: { ...r.headers, 'idempotency-key': `f-${randomUUID()}` } }),
              });
              await check(answer, `query ${key}=${value}`);
            },
          ),
          { numRuns: runs },
        );
        count(endpoint, '4xx malformed query', runs);
      }

      // Headers: garbage credentials in every shape.
      await fc.assert(
        fc.asyncProperty(
          fc.string({ maxLength: 200 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
          fc.constantFrom('', 'Bearer ', 'bearer ', 'Bearer  '),
          async (value, scheme) => {
            const answer = await call(endpoint.app, endpoint.method, r.path, {
              ...(r.body === undefined ? {} : { body: r.body }),
              headers: { ...r.headers, authorization: `${scheme}${value}` },
            });
            expectProblem(answer, 401);
          },
        ),
        { numRuns: runs },
      );
      count(endpoint, '401 garbage Authorization header', runs);

      expect(JSON.stringify(await readSnapshot(stack.databaseUrls))).toBe(before);
      expectAllAlive();
    },
  );
});

describe('regression probes of issue 14', () => {
  it('alice cannot open an account for bob, deposit into it, or read it', async () => {
    const alice = (app: string) => token(app, 'alice', ['customer']);
    expectProblem(
      await call('payments', 'POST', '/v1/accounts', {
        token: await alice('payments'),
        body: { customerId: 'bob' },
      }),
      403,
    );
    expectProblem(
      await call('payments', 'POST', '/v1/accounts/bob/deposits', {
        token: await alice('payments'),
        body: { amountCents: 100_000_000_000 },
      }),
      403,
    );
    expectProblem(
      await call('payments', 'POST', '/v1/accounts/alice/deposits', {
        token: await alice('payments'),
        body: { amountCents: 100 },
      }),
      403,
    );
    expectProblem(await call('payments', 'GET', '/v1/accounts/bob', { token: await alice('payments') }), 403);
    expectProblem(
      await call('orders', 'POST', '/v1/orders', {
        token: await alice('orders'),
        body: { customerId: 'bob', items: [{ sku: 'sec-apple', qty: 1 }], mode: 'saga' },
      }),
      403,
    );
    expectProblem(
      await call('orders', 'GET', `/v1/orders/${fixture.orderId}`, { token: await alice('orders') }),
      403,
    );
    expectProblem(
      await call('orders', 'GET', `/v1/orders?customerId=${fixture.customer}`, {
        token: await alice('orders'),
      }),
      403,
    );
  });

  it('unauthenticated reads are refused: accounts on payments, sagas on the orchestrator', async () => {
    expectProblem(await call('payments', 'GET', `/v1/accounts/${fixture.customer}`), 401);
    expectProblem(await call('orchestrator', 'GET', '/v1/sagas'), 401);
    expectProblem(await call('orchestrator', 'GET', `/v1/sagas/${fixture.sagaId}`), 401);
    expectProblem(await call('inventory', 'GET', '/v1/products'), 401);
    expectProblem(await call('orders', 'GET', `/v1/orders/${fixture.orderId}`), 401);
  });

  it("a customer cannot read sagas (every customer's inputs) or start one", async () => {
    const alice = await token('orchestrator', fixture.customer, ['customer']);
    expectProblem(await call('orchestrator', 'GET', '/v1/sagas', { token: alice }), 403);
  });

  it('/metrics and /docs: open on the loopback listener to local callers, closed when relayed by a proxy', async () => {
    for (const app of ['orders', 'payments'] as const) {
      expect((await call(app, 'GET', '/metrics')).status).toBe(200);
      expect((await call(app, 'GET', '/docs-json')).status).toBe(200);
      expectProblem(
        await call(app, 'GET', '/metrics', { headers: { 'x-forwarded-for': '203.0.113.9' } }),
        401,
      );
      expectProblem(
        await call(app, 'GET', '/docs-json', { headers: { 'x-forwarded-for': '203.0.113.9' } }),
        401,
      );
      const customer = await token(app, fixture.customer, ['customer']);
      expectProblem(
        await call(app, 'GET', '/metrics', { token: customer, headers: { forwarded: 'for=203.0.113.9' } }),
        403,
      );
      const operator = await admin(app);
      expect(
        (
          await call(app, 'GET', '/metrics', {
            token: operator,
            headers: { 'x-forwarded-for': '203.0.113.9' },
          })
        ).status,
      ).toBe(200);
    }
    expect((await call('orders', 'GET', '/health')).status).toBe(200);
  });

  it('caps money and counters: deposits and receipts beyond the cumulative cap are refused (422), not overflowed', async () => {
    const adminPayments = await admin('payments');
    for (let i = 0; i < 3; i += 1) {
      // 100 billion cents each: under the per-request maximum, but the cap is cumulative
      const r = await call('payments', 'POST', `/v1/accounts/${fixture.customer}/deposits`, {
        token: adminPayments,
        body: { amountCents: 100_000_000_000 },
      });
      expect(r.status).toBe(201);
    }
    const account = await call('payments', 'GET', `/v1/accounts/${fixture.customer}`, {
      token: adminPayments,
    });
    expect((account.body as { depositedCents: number }).depositedCents).toBeGreaterThan(300_000_000_000);
    const adminInventory = await admin('inventory');
    const receipts = await Promise.all(
      Array.from({ length: 30 }, () =>
        call('inventory', 'POST', `/v1/products/${fixture.sku}/receipts`, {
          token: adminInventory,
          body: { qty: 1_000_000 },
        }),
      ),
    );
    expect(receipts.every((x) => x.status === 201)).toBe(true);
    // 30 million units received: past 2^24 and nowhere near the old integer's 2^31, read back exactly
    const product = await call('inventory', 'GET', `/v1/products/${fixture.sku}`, { token: adminInventory });
    expect((product.body as { received: number }).received).toBe(1_000 + 30 * 1_000_000);
  });
});
