import type { DemoContext } from '../context.js';
import { Shop } from '../domain.js';

/**
 * A saga that cannot complete is undone: an order for more than the stock is CANCELLED with its reason, and an
 * order the customer cannot pay for has its stock reservation released (the compensation of the step that did
 * run). In both cases nothing stays reserved or held.
 */
export async function sagaCompensation(ctx: DemoContext): Promise<void> {
  const { narrator: n } = ctx;
  const shop = new Shop(ctx);
  const sku = `demo-sc-${ctx.runId}`;
  const customer = `demo-sc-${ctx.runId}`;
  const priceCents = 1_000;
  const stock = 3;
  const depositCents = 2_500;

  n.step('set up: a product with little stock, a customer with a little money');
  await shop.createProduct(sku, priceCents, stock);
  await shop.openAccount(customer, depositCents);

  n.step(`order ${stock + 1} (more than the ${stock} in stock), as a saga`);
  const outOfStock = await shop.placeOrder(customer, [{ sku, qty: stock + 1 }], 'saga', true);
  const first = (await shop.settle([outOfStock.orderId], 60_000)).get(outOfStock.orderId);
  n.say(
    `order ${outOfStock.orderId}: ${first?.status ?? '?'}${first?.reason === undefined ? '' : `, reason: ${first.reason}`}`,
  );
  const productAfterFirst = await shop.product(sku);
  const accountAfterFirst = await shop.account(customer);
  n.say(
    `product: stock ${productAfterFirst.stock}, reserved ${productAfterFirst.reserved}, sold ${productAfterFirst.sold}; account: balance ${accountAfterFirst.balanceCents}, held ${accountAfterFirst.heldCents}`,
  );

  n.step(
    `order ${stock} (in stock, ${stock * priceCents} cents) with only ${depositCents} cents: reserve succeeds, the hold is refused`,
  );
  const unpaid = await shop.placeOrder(customer, [{ sku, qty: stock }], 'saga', true);
  const second = (await shop.settle([unpaid.orderId], 60_000)).get(unpaid.orderId);
  n.say(
    `order ${unpaid.orderId}: ${second?.status ?? '?'}${second?.reason === undefined ? '' : `, reason: ${second.reason}`}`,
  );
  const product = await shop.product(sku);
  const account = await shop.account(customer);
  n.say(
    `product: stock ${product.stock}, reserved ${product.reserved}, sold ${product.sold}; account: balance ${account.balanceCents}, held ${account.heldCents}`,
  );

  n.check(
    'the out-of-stock order is CANCELLED with a reason',
    first?.status === 'CANCELLED' && (first.reason ?? '').length > 0,
    first?.reason ?? first?.status ?? 'unknown',
  );
  n.check(
    'nothing was reserved or held for it',
    productAfterFirst.reserved === 0 &&
      productAfterFirst.stock === stock &&
      accountAfterFirst.heldCents === 0 &&
      accountAfterFirst.balanceCents === depositCents,
  );
  n.check(
    'the unpayable order is CANCELLED with a reason',
    second?.status === 'CANCELLED' && (second.reason ?? '').length > 0,
    second?.reason ?? second?.status ?? 'unknown',
  );
  n.check(
    'its reservation was released by the compensation: all stock back, nothing held or sold',
    product.stock === stock &&
      product.reserved === 0 &&
      product.sold === 0 &&
      account.heldCents === 0 &&
      account.balanceCents === depositCents,
    `stock ${product.stock}/${stock}, reserved ${product.reserved}, held ${account.heldCents}`,
  );
}
