import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_PORTS } from '@concord/contracts';
import pg from 'pg';
import { type DemoContext, killOnPort, pollUntil, restartKilled, sleep } from '../context.js';
import { Shop, tally } from '../domain.js';

const orderCount = 16;
const qtyPerOrder = 1;

async function preparedTransactions(ctx: DemoContext): Promise<{ gid: string; database: string }[]> {
  const password = readFileSync(path.join(ctx.stack.dataDir, 'postgres', 'password'), 'utf8').trim();
  const client = new pg.Client({
    host: '127.0.0.1',
    port: DEFAULT_PORTS.postgres,
    user: 'concord',
    password,
    database: 'postgres',
  });
  await client.connect();
  try {
    // pg_prepared_xacts covers every database of the server.
    const result = await client.query<{ gid: string; database: string }>(
      'SELECT gid, database FROM pg_prepared_xacts',
    );
    return result.rows;
  } finally {
    await client.end();
  }
}

/**
 * Two-phase commit survives a participant crash: 2PC orders are in flight when an inventory instance is SIGKILLed.
 * Its prepared transactions outlive it in PostgreSQL; the live protocol or the survivor's in-doubt recovery (which
 * asks the orchestrator for the decision) commits or rolls back each, so every order settles and no prepared
 * transaction is left holding locks.
 */
export async function twoPhaseRecovery(ctx: DemoContext): Promise<void> {
  const { narrator: n } = ctx;
  const shop = new Shop(ctx);
  const sku = `demo-2pc-${ctx.runId}`;
  const customer = `demo-2pc-${ctx.runId}`;
  const priceCents = 300;

  n.step('set up: enough stock and money for every order');
  await shop.createProduct(sku, priceCents, orderCount * qtyPerOrder * 2);
  await shop.openAccount(customer, orderCount * qtyPerOrder * priceCents * 2);
  const before = await preparedTransactions(ctx);
  n.say(`pg_prepared_xacts before: ${before.length} row(s)`);

  n.step(`place ${orderCount} two-phase orders and kill inventory-1 while they run`);
  const placing = Promise.allSettled(
    Array.from({ length: orderCount }, () =>
      shop.placeOrder(customer, [{ sku, qty: qtyPerOrder }], '2pc', false),
    ),
  );
  await sleep(150);
  const port = DEFAULT_PORTS.inventory[0] ?? 0;
  const killed = await killOnPort(ctx, 'inventory-1', port);
  const inFlight = (await preparedTransactions(ctx)).length;
  n.say(`pg_prepared_xacts right after the kill: ${inFlight} row(s)`);
  const orderIds: string[] = [];
  for (const r of await placing) {
    if (r.status === 'fulfilled') orderIds.push(r.value.orderId);
    else n.say(`an order was refused: ${(r.reason as Error).message}`);
  }
  n.say(`${orderIds.length} orders accepted`);

  n.step('wait for every order to settle and every prepared transaction to be decided');
  const states = await shop.settle(orderIds, 90_000);
  let lastCount = -1;
  const drained = await pollUntil(
    async () => {
      const rows = await preparedTransactions(ctx);
      if (rows.length !== lastCount) {
        n.say(
          `pg_prepared_xacts: ${rows.length} row(s)${
            rows.length > 0
              ? ` (${rows
                  .slice(0, 3)
                  .map((r) => `${r.database}/${r.gid}`)
                  .join(', ')}${rows.length > 3 ? ', ...' : ''})`
              : ''
          }`,
        );
        lastCount = rows.length;
      }
      return rows.length === 0 ? true : undefined;
    },
    60_000,
    1_000,
  );
  const t = tally(states, qtyPerOrder);
  const product = await shop.product(sku);
  const account = await shop.account(customer);
  n.say(
    `${t.confirmed} CONFIRMED, ${t.cancelled} CANCELLED, ${t.pending} PENDING; product sold ${product.sold}, reserved ${product.reserved}; captured ${account.capturedCents}, held ${account.heldCents}`,
  );

  n.check(
    'every 2PC order settled',
    t.pending === 0 && orderIds.length > 0 && states.size === orderIds.length,
    `${states.size - t.pending}/${orderIds.length}`,
  );
  n.check('pg_prepared_xacts ends empty', drained === true, `${lastCount} left`);
  n.check(
    'all or nothing: stock sold and money captured match the confirmed orders',
    product.sold === t.confirmedQty && account.capturedCents === t.confirmedCents && account.heldCents === 0,
    `sold ${product.sold} = ${t.confirmedQty}, captured ${account.capturedCents} = ${t.confirmedCents}`,
  );

  n.step('restore inventory-1');
  await restartKilled(ctx, killed);
}
