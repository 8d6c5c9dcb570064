/**
 * `npm run seed`: data for the walk-through and the demos, through the gateway as a client would send it.
 *
 * A catalogue (8 products), three customers with funds, and a few orders (saga and two-phase commit, one
 * cancelled for lack of stock). Safe to run again: existing products and accounts are kept (409 is "already
 * there"), deposits go only to accounts this run created, and orders carry fixed Idempotency-Keys, so a second
 * run changes nothing.
 *
 *   GATEWAY_PORT (default 8080) or SEED_GATEWAY_URL   where the gateway is (npm start's, or compose's)
 *   JWT_SECRET or SEED_ENV_FILE=docker/.env           the token's secret; default .data/gateway-jwt-secret
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { signJwt } from '../apps/gateway/src/edge/jwt.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const gateway =
  process.env['SEED_GATEWAY_URL'] ?? `http://127.0.0.1:${process.env['GATEWAY_PORT'] ?? '8080'}`;

const PRODUCTS = [
  { sku: 'apple', name: 'Apple', priceCents: 120, stock: 200 },
  { sku: 'pear', name: 'Pear', priceCents: 150, stock: 150 },
  { sku: 'banana', name: 'Banana', priceCents: 90, stock: 300 },
  { sku: 'coffee-beans', name: 'Coffee beans, 1 kg', priceCents: 2_400, stock: 40 },
  { sku: 'tea', name: 'Green tea, 100 g', priceCents: 750, stock: 60 },
  { sku: 'mug', name: 'Mug', priceCents: 1_200, stock: 25 },
  { sku: 'notebook', name: 'Notebook', priceCents: 450, stock: 80 },
  { sku: 'last-one', name: 'The last one in stock', priceCents: 9_900, stock: 1 },
];
const CUSTOMERS = [
  { customerId: 'alice', depositCents: 50_000 },
  { customerId: 'bob', depositCents: 20_000 },
  { customerId: 'carol', depositCents: 5_000 },
];
const ORDERS = [
  {
    key: 'seed-order-1',
    customerId: 'alice',
    mode: 'saga',
    items: [
      { sku: 'apple', qty: 6 },
      { sku: 'mug', qty: 1 },
    ],
  },
  { key: 'seed-order-2', customerId: 'alice', mode: '2pc', items: [{ sku: 'coffee-beans', qty: 2 }] },
  {
    key: 'seed-order-3',
    customerId: 'bob',
    mode: 'saga',
    items: [
      { sku: 'tea', qty: 3 },
      { sku: 'pear', qty: 4 },
    ],
  },
  { key: 'seed-order-4', customerId: 'bob', mode: '2pc', items: [{ sku: 'notebook', qty: 5 }] },
  { key: 'seed-order-5', customerId: 'carol', mode: 'saga', items: [{ sku: 'banana', qty: 12 }] },
  // More than the stock: the saga compensates and the order ends CANCELLED with a reason.
  { key: 'seed-order-6', customerId: 'carol', mode: 'saga', items: [{ sku: 'last-one', qty: 2 }] },
];

const fail = (message: string): never => {
  process.stderr.write(`seed: ${message}\n`);
  process.exit(1);
};

async function jwtSecret(): Promise<string> {
  const variable = process.env['JWT_SECRET'];
  if (variable !== undefined && variable !== '') return variable;
  const envFile = process.env['SEED_ENV_FILE'];
  if (envFile !== undefined) {
    const text = await readFile(envFile, 'utf8').catch(() => fail(`${envFile} not found`));
    const line = text.split('\n').find((l) => /^\s*JWT_SECRET\s*=/.test(l)) ?? '';
    const value = line
      .slice(line.indexOf('=') + 1)
      .trim()
      .replace(/^(['"])(.*)\1$/, '$2');
    return value === '' ? fail(`no JWT_SECRET in ${envFile}`) : value;
  }
  const file = path.resolve(ROOT, process.env['STACK_DATA_DIR'] ?? '.data', 'gateway-jwt-secret');
  const text = await readFile(file, 'utf8').catch(() =>
    fail(`${file} not found: start the stack first (npm start)`),
  );
  return text.trim();
}

const now = Math.floor(Date.now() / 1000);
const token = signJwt({ sub: 'seed', iat: now, exp: now + 600 }, { hs256Secret: await jwtSecret() });

async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  let response: Response;
  try {
    response = await fetch(`${gateway}/api${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    return fail(
      `${method} ${gateway}/api${url}: ${(error as Error).message} (is the stack running? npm start)`,
    );
  }
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: response.status, json: json as Record<string, unknown> };
}

const expectStatus = (what: string, got: { status: number; json: unknown }, ok: readonly number[]) => {
  if (!ok.includes(got.status)) fail(`${what}: HTTP ${got.status} ${JSON.stringify(got.json)}`);
};

let created = 0;
for (const product of PRODUCTS) {
  const result = await call('POST', '/inventory/v1/products', product);
  expectStatus(`product ${product.sku}`, result, [201, 409]);
  if (result.status === 201) created++;
}
process.stdout.write(`catalogue: ${PRODUCTS.length} products (${created} new)\n`);

for (const customer of CUSTOMERS) {
  const account = await call('POST', '/payments/v1/accounts', { customerId: customer.customerId });
  expectStatus(`account ${customer.customerId}`, account, [201, 409]);
  if (account.status === 201) {
    const deposit = await call('POST', `/payments/v1/accounts/${customer.customerId}/deposits`, {
      amountCents: customer.depositCents,
    });
    expectStatus(`deposit for ${customer.customerId}`, deposit, [201]);
  }
  const balance = await call('GET', `/payments/v1/accounts/${customer.customerId}`);
  process.stdout.write(`account ${customer.customerId}: ${JSON.stringify(balance.json)}\n`);
}

for (const order of ORDERS) {
  const { key, ...body } = order;
  const result = await call('POST', '/orders/v1/orders?wait=true', body, { 'idempotency-key': key });
  expectStatus(`order ${key}`, result, [200, 201, 202]);
  const status = typeof result.json.status === 'string' ? result.json.status : JSON.stringify(result.json);
  const reason = typeof result.json.reason === 'string' ? result.json.reason : undefined;
  process.stdout.write(
    `order ${key} (${order.mode}, ${order.customerId}): ${status}${reason === undefined ? '' : ` (${reason})`}\n`,
  );
}
process.stdout.write(`seeded through ${gateway}\n`);
