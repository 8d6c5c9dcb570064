/**
 * The console in a real browser (headless Chromium driven by playwright-core) against real processes: a 3-node
 * coordinator, the domain services with the orchestrator, the gateway and the console behind it. The page signs
 * in with the admin token, shows the three members and the leader, shows the new leader after the old one is
 * SIGKILLed, shows an instance leaving rotation after it is SIGKILLed, and shows a saga's steps.
 *
 * Set CONSOLE_SCREENSHOTS_DIR (e.g. docs/images) to keep the screenshots it takes.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, type ProcessHandle, waitFor } from '@concord/infra';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { signJwt } from '../../apps/gateway/src/edge/jwt.js';
import { CLIENT_TOKEN, type CoordinatorCluster, startCoordinatorCluster } from '../coordinator/cluster.js';
import { DomainApi } from '../domain/domain-api.js';
import { builtMain, type DomainStack, startDomainStack } from '../domain/domain-stack.js';
import { DASHBOARD_DIR, DASHBOARDS } from '../../scripts/dashboards.js';
import { metricsIn } from '../observability/metric-names.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ADMIN_TOKEN = 'console-test-admin-token-0123456789';
const JWT_SECRET = 'console-test-jwt-secret-0123456789abcdef';

let stack: DomainStack;
let cluster: CoordinatorCluster;
let gatewayUrl: string;
let browser: Browser;
let page: Page;
let inventory2: ProcessHandle;
let shots: string;
let consoleUrl: string;
let orchestratorUrl: string;

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or set CHROMIUM_PATH)`);
  }
  shots = process.env.CONSOLE_SCREENSHOTS_DIR ?? (await mkdtemp(path.join(os.tmpdir(), 'concord-console-')));
  await mkdir(shots, { recursive: true });

  stack = await startDomainStack({ orchestrator: false });
  // Independent of each other: started together.
  const [orchestrator, second, coordinators] = await Promise.all([
    stack.start('orchestrator'),
    stack.start('inventory'),
    startCoordinatorCluster(stack.processes, 3),
  ]);
  cluster = coordinators;
  inventory2 = second.process;
  const upstreams = [
    `orders=orders-1@${stack.urls.orders}`,
    `payments=payments-1@${stack.urls.payments}`,
    `inventory=inventory-1@${stack.urls.inventory},inventory-2@${second.url}`,
  ].join(';');
  const gatewayPort = await freePort();
  const consolePort = await freePort();
  gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
  consoleUrl = `http://127.0.0.1:${consolePort}`;
  orchestratorUrl = orchestrator.url;

  await stack.processes.start({
    name: 'console',
    command: process.execPath,
    args: [builtMain('console')],
    cwd: ROOT,
    env: {
      PORT: String(consolePort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      CONSOLE_ADMIN_TOKEN: ADMIN_TOKEN,
      COORDINATOR_URLS: cluster.urls.join(','),
      COORDINATOR_TOKEN: CLIENT_TOKEN,
      GATEWAY_URL: gatewayUrl,
      GATEWAY_ADMIN_TOKEN: ADMIN_TOKEN,
      ORCHESTRATOR_URLS: orchestrator.url,
      ORCHESTRATOR_TOKEN: stack.operatorToken,
      CONSOLE_POLL_INTERVAL_MS: '250',
    },
    ready: { url: `http://127.0.0.1:${consolePort}/health/ready`, timeoutMs: 60_000 },
  });
  await stack.processes.start({
    name: 'gateway',
    command: process.execPath,
    args: [builtMain('gateway')],
    cwd: ROOT,
    env: {
      PORT: String(gatewayPort),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      STATIC_UPSTREAMS: upstreams,
      JWT_SECRET,
      ADMIN_TOKEN,
      INTERNAL_TOKEN_PRIVATE_KEY: stack.internalKeys.privateKeyPem,
      CONSOLE_URL: `http://127.0.0.1:${consolePort}`,
      HEALTH_INTERVAL_MS: '250',
      HEALTH_FALL: '2',
    },
    ready: { url: `${gatewayUrl}/health/ready`, timeoutMs: 60_000 },
  });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  // Eleven processes and a browser: generous on a loaded 2-core machine.
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('the console', () => {
  it('asks for the admin token, refuses a wrong one, then shows 3 members and the leader', async () => {
    onTestFailed(() => stack.processes.printLogs(undefined, 40));
    // Without the token the data endpoints refuse; the page itself holds no data.
    const refused = await fetch(`${gatewayUrl}/console/api/snapshot`);
    expect(refused.status).toBe(401);

    await page.goto(`${gatewayUrl}/console`);
    await page.getByLabel('Gateway admin token').fill('wrong-token-wrong-token');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#login-error').textContent()).toMatch(/refused/);

    await page.getByLabel('Gateway admin token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Open the console' }).click();
    const leader = await cluster.leader();
    await expect.poll(() => page.locator('#cluster tbody tr').count(), { timeout: 15_000 }).toBe(3);
    await expect.poll(() => page.getByTestId('leader').textContent(), { timeout: 15_000 }).toBe(leader.id);
    await expect
      .poll(() => page.locator(`#cluster tr[data-member="${leader.id}"]`).getAttribute('data-role'))
      .toBe('leader');
    // Kept for the browser session: a reload does not ask again.
    await page.reload();
    await expect.poll(() => page.getByTestId('leader').textContent(), { timeout: 15_000 }).toBe(leader.id);
    await shot('console');
  });

  it('shows a saga with its steps and a 2PC transaction once they settle', async () => {
    const now = Math.floor(Date.now() / 1000);
    // An operator's token: products, deposits and orders for any customer.
    const jwt = signJwt(
      { sub: 'console', scope: 'admin', iat: now, exp: now + 600 },
      { hs256Secret: JWT_SECRET },
    );
    const api = new DomainApi((service) => `${gatewayUrl}/api/${service}`, jwt);
    await api.createProduct('console-pear', 100, 50);
    await api.openAccount('console-customer', 100_000);
    const saga = await api.placeOrder('console-customer', [{ sku: 'console-pear', qty: 2 }], 'saga');
    expect(saga.body.status).toBe('CONFIRMED');
    const twoPc = await api.placeOrder('console-customer', [{ sku: 'console-pear', qty: 1 }], '2pc');
    expect(twoPc.body.status).toBe('CONFIRMED');
    const sagaRow = page.locator(`li[data-transaction="${saga.body.transactionId}"]`);
    await expect.poll(() => sagaRow.getAttribute('data-status'), { timeout: 15_000 }).toBe('completed');
    expect(await sagaRow.locator('.steps li').count()).toBeGreaterThanOrEqual(3);
    await expect
      .poll(
        () => page.locator(`li[data-transaction="${twoPc.body.transactionId}"]`).getAttribute('data-status'),
        {
          timeout: 15_000,
        },
      )
      .toBe('committed');
    await shot('console-transactions');
  });

  it('shows who holds a singleton job lock, its fencing token and who waits, from the coordinator', async () => {
    // Two instances of a job, as SingletonJob runs them: each with its lease, queued for `locks/{service}-…`.
    const coordinator = async (method: string, route: string, body?: unknown) => {
      const response = await fetch(`${cluster.urls[0]}${route}`, {
        method,
        headers: { authorization: `Bearer ${CLIENT_TOKEN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const holderLease = String((await coordinator('POST', '/v1/leases', { ttlSeconds: 60 })).body['id']);
    const waiterLease = String((await coordinator('POST', '/v1/leases', { ttlSeconds: 60 })).body['id']);
    const held = await coordinator('POST', '/v1/locks/inventory-reservation-expiry', {
      lease: holderLease,
      waitMs: 5_000,
      holder: 'inventory-1',
    });
    expect(held.status).toBe(200);
    const waiting = coordinator('POST', '/v1/locks/inventory-reservation-expiry', {
      lease: waiterLease,
      waitMs: 20_000,
      holder: 'inventory-2',
    });
    const row = page.locator('#singletons tr[data-job="inventory-reservation-expiry"]');
    await expect.poll(() => row.locator('td').nth(2).textContent(), { timeout: 15_000 }).toBe('1');
    const cells = await row.locator('td').allTextContents();
    expect(cells[0]).toBe(`inventory-1 (${holderLease})`);
    expect(cells[1]).toBe(String(held.body['fencingToken']));
    // The holder's lease ends (a crashed instance): the next in line holds it, with a larger fencing token.
    await coordinator('DELETE', `/v1/leases/${holderLease}`);
    const next = await waiting;
    expect(next.status).toBe(200);
    expect(Number(next.body['fencingToken'])).toBeGreaterThan(Number(held.body['fencingToken']));
    await expect
      .poll(() => row.locator('td').nth(1).textContent(), { timeout: 15_000 })
      .toBe(String(next.body['fencingToken']));
    expect(await row.locator('td').first().textContent()).toBe(`inventory-2 (${waiterLease})`);
  });

  it('runs a seeded Paxos run and shows its timeline, from the keyboard', async () => {
    // Opened with the default run (seed 1, two proposers): prepares, promises, accepts and the chosen value.
    const timeline = page.locator('#paxos-timeline li');
    await expect.poll(() => timeline.count(), { timeout: 15_000 }).toBeGreaterThan(10);
    for (const kind of ['prepare', 'promise', 'accept', 'accepted', 'chosen'])
      expect(await page.locator(`#paxos-timeline li[data-kind="${kind}"]`).count(), kind).toBeGreaterThan(0);
    // Keyboard only: a dueling run with three proposers, five acceptors and losses.
    await page.locator('#paxos-seed').focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('7');
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown'); // 5 acceptors
    await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowDown'); // 3 proposers
    await page.keyboard.press('Tab');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('20');
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('#paxos-summary').textContent(), { timeout: 15_000 })
      .toContain('seed 7, 5 acceptors, 3 proposer(s)');
    // The page shows the very run the simulator computes for that seed.
    const api = await fetch(`${gatewayUrl}/console/api/paxos?seed=7&acceptors=5&proposers=3&drop=20`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const run = (await api.json()) as { events: { kind: string }[]; chosen: { value: string } | null };
    expect(await timeline.count()).toBe(run.events.length);
    if (run.chosen) expect(await page.locator('#paxos-summary').textContent()).toContain(run.chosen.value);
    expect(run.events.some((e) => e.kind === 'nack')).toBe(true);
    // Bad input is a 400 naming the field; no token is a 401.
    const bad = await fetch(`${gatewayUrl}/console/api/paxos?seed=-1`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('seed');
    expect((await fetch(`${gatewayUrl}/console/api/paxos`)).status).toBe(401);
    await page.locator('#paxos-title').scrollIntoViewIfNeeded();
    await shot('console-paxos');
  });

  it('shows the new leader within moments of the old one being SIGKILLed', async () => {
    const old = await cluster.leader();
    const killedAt = Date.now();
    old.proc.kill('SIGKILL');
    const next = await waitFor(
      async () => {
        const shown = await page
          .getByTestId('leader')
          .textContent()
          .catch(() => null);
        return shown !== null && shown !== old.id ? shown : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50, description: 'the console shows a new leader' },
    );
    const shownAfterMs = Date.now() - killedAt;
    const elected = await cluster.leader();
    expect(next).toBe(elected.id);
    await expect
      .poll(() => page.locator(`#cluster tr[data-member="${old.id}"]`).getAttribute('data-role'))
      .toBe('down');
    await expect
      .poll(() => page.locator('#events').textContent())
      .toContain(`leader ${old.id} → ${elected.id}`);
    process.stdout.write(`console: new leader shown ${shownAfterMs} ms after the SIGKILL\n`);
    await shot('console-leader-change');
  });

  it('shows an instance leaving rotation after it is SIGKILLed', async () => {
    inventory2.kill('SIGKILL');
    const row = page.locator('div[data-service="inventory"] tr[data-instance="inventory-2"]');
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 15_000 }).not.toBe('ok');
    await expect
      .poll(() => page.locator('#events').textContent())
      .toMatch(/inventory\/inventory-2 (ejected|breaker)/);
    // Keyboard: the sign-out button is reachable with Tab and works with Enter.
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate('document.activeElement ? document.activeElement.id : ""');
      if (focused === 'sign-out') break;
    }
    expect(await page.evaluate('document.activeElement ? document.activeElement.id : ""')).toBe('sign-out');
    await shot('console-instance-down');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#login').isVisible()).toBe(true);
    expect((await stat(path.join(shots, 'console.png'))).size).toBeGreaterThan(10_000);
  });
});

describe('metrics behind the dashboards', () => {
  it('every metric a dashboard queries is registered by a running process', async () => {
    const urls = [
      ...cluster.urls,
      gatewayUrl,
      consoleUrl,
      orchestratorUrl,
      stack.urls.orders,
      stack.urls.inventory,
      stack.urls.payments,
    ];
    const exposed = new Set<string>();
    for (const url of urls) {
      const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) }).catch(
        () => undefined,
      );
      if (response?.ok !== true) continue; // a node killed by an earlier test
      for (const match of (await response.text()).matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        const [, name = '', type] = match;
        exposed.add(name);
        if (type === 'histogram')
          for (const suffix of ['_bucket', '_sum', '_count']) exposed.add(`${name}${suffix}`);
      }
    }
    exposed.add('up'); // Prometheus's own
    const queried = DASHBOARDS.flatMap((d) =>
      d.panels.flatMap((p) => p.exprs.flatMap((e) => metricsIn(e.expr))),
    );
    expect(queried.length).toBeGreaterThan(20);
    expect([...new Set(queried)].filter((name) => !exposed.has(name))).toEqual([]);
    expect(DASHBOARD_DIR).toMatch(/dashboards$/);
  });

  it('the coordinator reports its Raft state: one leader, every live node on the same term', async () => {
    const live = cluster.nodes.filter((n) => n.proc.exit === undefined);
    const texts = await Promise.all(live.map(async (n) => (await fetch(`${n.url}/metrics`)).text()));
    const value = (text: string, series: string) =>
      Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const leaders = texts.filter((t) => value(t, 'raft_role{role="leader"}') === 1);
    expect(leaders).toHaveLength(1);
    expect(new Set(texts.map((t) => value(t, 'raft_term'))).size).toBe(1);
    for (const t of texts) {
      expect(value(t, 'raft_has_leader')).toBe(1);
      expect(value(t, 'raft_commit_index')).toBeGreaterThan(0);
    }
    const orchestratorText = await (await fetch(`${orchestratorUrl}/metrics`)).text();
    expect(value(orchestratorText, 'saga_oldest_unsettled_seconds')).toBe(0);
    const paymentsText = await (await fetch(`${stack.urls.payments}/metrics`)).text();
    expect(value(paymentsText, 'participant_prepared_transactions')).toBe(0);
  });
});
