/**
 * End to end through the gateway: clients hold a JWT and talk only to the gateway (`/api/{service}/...`), which
 * hashes each request to an instance and passes the service credential on. Orders in both modes, including
 * out-of-stock and insufficient-funds cases that must end CANCELLED with nothing held; invariants after each.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { freePort, type ProcessHandle } from '@concord/infra';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { signJwt } from '../../apps/gateway/src/edge/jwt.js';
import { DomainApi } from './domain-api.js';
import { builtMain, type DomainStack, startDomainStack } from './domain-stack.js';
import { checkInvariants, readSnapshot } from './invariants.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
let stack: DomainStack;
let gateway: ProcessHandle;
let api: DomainApi;
let gatewayUrl: string;
let jwt: string;

beforeAll(async () => {
  stack = await startDomainStack();
  // A second instance of each service, so the gateway has a ring to hash over.
  const second = await Promise.all(
    (['orders', 'inventory', 'payments'] as const).map(async (s) => [s, (await stack.start(s)).url] as const),
  );
  const upstreams = (['orders', 'inventory', 'payments'] as const)
    .map((s) => `${s}=${s}-1@${stack.urls[s]},${s}-2@${second.find(([n]) => n === s)?.[1] ?? ''}`)
    .join(';');
  const secret = randomBytes(32).toString('hex');
  const port = await freePort();
  gateway = await stack.processes.start({
    name: 'gateway',
    command: process.execPath,
    args: [builtMain('gateway')],
    cwd: ROOT,
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      STATIC_UPSTREAMS: upstreams,
      JWT_SECRET: secret,
      ADMIN_TOKEN: secret,
      // Until the gateway mints internal tokens, it relays as the operator (the services' break-glass token).
      API_TOKEN: stack.operatorToken,
    },
    ready: { url: `http://127.0.0.1:${port}/health/ready`, timeoutMs: 60_000 },
  });
  const now = Math.floor(Date.now() / 1000);
  jwt = signJwt({ sub: 'e2e', iat: now, exp: now + 3600 }, { hs256Secret: secret });
  gatewayUrl = `http://127.0.0.1:${port}`;
  api = new DomainApi((service) => `${gatewayUrl}/api/${service}`, jwt);
  await api.createProduct('gw-apple', 100, 10);
  await api.openAccount('gw-rich', 100_000);
  await api.openAccount('gw-poor', 150);
});

afterAll(async () => {
  await stack?.stop();
});

async function expectInvariants(): Promise<void> {
  expect(checkInvariants(await readSnapshot(stack.databaseUrls))).toEqual([]);
}

describe('orders through the gateway', () => {
  for (const mode of ['saga', '2pc'] as const) {
    it(`${mode}: confirms, and cancels out-of-stock and insufficient-funds orders with nothing held`, async () => {
      onTestFailed(() => stack.processes.printLogs(undefined, 60));
      const ok = await api.placeOrder('gw-rich', [{ sku: 'gw-apple', qty: 2 }], mode);
      expect(ok.body).toMatchObject({ status: 'CONFIRMED', totalCents: 200 });
      const noStock = await api.placeOrder('gw-rich', [{ sku: 'gw-apple', qty: 500 }], mode);
      expect(noStock.body).toMatchObject({ status: 'CANCELLED' });
      expect(noStock.body.reason).toMatch(/out of stock/);
      const noFunds = await api.placeOrder('gw-poor', [{ sku: 'gw-apple', qty: 2 }], mode);
      expect(noFunds.body).toMatchObject({ status: 'CANCELLED' });
      expect(noFunds.body.reason).toMatch(/insufficient funds/);
      await expectInvariants();
    });
  }

  it('routes a key to the same instance every time and names it', async () => {
    const seen = new Set<string | null>();
    for (let i = 0; i < 10; i++) {
      const response = await fetch(`${gatewayUrl}/api/inventory/v1/products/gw-apple`, {
        headers: { authorization: `Bearer ${jwt}`, 'x-hash-key': 'gw-apple' },
      });
      expect(response.status).toBe(200);
      seen.add(response.headers.get('x-upstream-instance'));
    }
    expect(seen.size).toBe(1);
    expect([...seen][0]).toMatch(/^inventory-[12]$/);
    expect(gateway.exit).toBeUndefined();
  });
});
