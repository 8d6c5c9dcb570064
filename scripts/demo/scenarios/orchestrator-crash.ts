import { DEFAULT_PORTS } from '@concord/contracts';
import { type DemoContext, field, http, killOnPort, pollUntil, restartKilled } from '../context.js';
import { Shop, tally } from '../domain.js';

const ordersBeforeKill = 12;
const ordersAfterKill = 6;
const qtyPerOrder = 1;

/** The orchestrator instance named by the coordinator election `orchestrator` (its INSTANCE_ID), or undefined. */
export async function orchestratorLeader(
  ctx: DemoContext,
): Promise<{ id: string; term: number } | undefined> {
  for (const url of ctx.stack.coordinatorUrls) {
    const answer = await http(`${url}/v1/elections/orchestrator`, {
      token: ctx.stack.coordinatorToken,
      timeoutMs: 2_000,
    });
    if (answer.status !== 200) continue;
    const id = /orchestrator-\d+/.exec(JSON.stringify(field(answer.body, 'value')))?.[0];
    if (id !== undefined) return { id, term: Number(field(answer.body, 'term')) };
  }
  return undefined;
}

/**
 * The leading orchestrator is SIGKILLed while sagas are in flight. Its successor wins the election with a larger
 * fencing token, resumes every saga from the durable log, and each one settles exactly once: the stock sold and the
 * money captured match the confirmed orders.
 */
export async function orchestratorCrash(ctx: DemoContext): Promise<void> {
  const { narrator: n } = ctx;
  const shop = new Shop(ctx);
  const sku = `demo-oc-${ctx.runId}`;
  const customer = `demo-oc-${ctx.runId}`;
  const priceCents = 250;
  const total = ordersBeforeKill + ordersAfterKill;

  n.step('set up: enough stock and money for every order');
  await shop.createProduct(sku, priceCents, total * qtyPerOrder * 2);
  await shop.openAccount(customer, total * qtyPerOrder * priceCents * 2);

  const leader = await orchestratorLeader(ctx);
  const index = Number(/\d+$/.exec(leader?.id ?? '')?.[0]);
  const port = DEFAULT_PORTS.orchestrator[index - 1];
  if (leader === undefined || port === undefined) {
    n.check('the orchestrator election has a leader', false, 'GET /v1/elections/orchestrator');
    return;
  }
  n.say(`leading orchestrator: ${leader.id} (election term ${leader.term}, port ${port})`);

  n.step(`place ${ordersBeforeKill} saga orders without waiting, then kill ${leader.id}`);
  const orderIds: string[] = [];
  const placed = await Promise.all(
    Array.from({ length: ordersBeforeKill }, () =>
      shop.placeOrder(customer, [{ sku, qty: qtyPerOrder }], 'saga', false),
    ),
  );
  orderIds.push(...placed.map((o) => o.orderId));
  n.say(
    `${placed.length} orders accepted: ${placed.filter((o) => o.status === 'PENDING').length} still PENDING`,
  );
  const killed = await killOnPort(ctx, leader.id, port);

  n.say(`place ${ordersAfterKill} more while no orchestrator leads`);
  const later = await Promise.allSettled(
    Array.from({ length: ordersAfterKill }, () =>
      shop.placeOrder(customer, [{ sku, qty: qtyPerOrder }], 'saga', false),
    ),
  );
  for (const r of later) {
    if (r.status === 'fulfilled') orderIds.push(r.value.orderId);
    else n.say(`an order was refused while leaderless: ${(r.reason as Error).message}`);
  }

  n.step('wait for a new leader and for every order to settle');
  const successor = await pollUntil(
    async () => {
      const now = await orchestratorLeader(ctx);
      return now !== undefined && now.id !== leader.id ? now : undefined;
    },
    60_000,
    500,
  );
  n.say(
    successor === undefined
      ? 'no new orchestrator leader within 60 s'
      : `new leader: ${successor.id} (term ${successor.term} > ${leader.term})`,
  );
  const states = await shop.settle(orderIds, 90_000);
  const t = tally(states, qtyPerOrder);
  const product = await shop.product(sku);
  const account = await shop.account(customer);
  n.say(
    `${t.confirmed} CONFIRMED, ${t.cancelled} CANCELLED, ${t.pending} PENDING; product sold ${product.sold}, reserved ${product.reserved}; captured ${account.capturedCents}, held ${account.heldCents}`,
  );

  n.check(
    'the other orchestrator took over with a larger term',
    successor !== undefined && successor.term > leader.term,
    successor?.id ?? 'none',
  );
  n.check(
    'every order settled',
    t.pending === 0 && states.size === orderIds.length,
    `${states.size - t.pending}/${orderIds.length}`,
  );
  n.check(
    'every order was confirmed (there was stock and money for all)',
    t.confirmed === orderIds.length,
    `${t.confirmed}/${orderIds.length}`,
  );
  n.check(
    'stock sold and money captured match the confirmed orders exactly once',
    product.sold === t.confirmedQty &&
      product.reserved === 0 &&
      account.capturedCents === t.confirmedCents &&
      account.heldCents === 0,
    `sold ${product.sold} = ${t.confirmedQty}, captured ${account.capturedCents} = ${t.confirmedCents}`,
  );

  n.step(`restore ${leader.id}`);
  await restartKilled(ctx, killed);
}
