import type { OrderLine, PricedLine } from '@concord/contracts';

/** A product as the API shows it. Invariant: stock + reserved + sold = received, each >= 0. */
export interface ProductView {
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly stock: number;
  readonly reserved: number;
  readonly sold: number;
  readonly received: number;
}

/**
 * One line per sku (quantities of repeated skus added), sorted by sku. Sorted so that every transaction takes
 * product row locks in the same order: two orders for the same skus then queue instead of deadlocking.
 */
export function mergeLines(items: readonly OrderLine[]): OrderLine[] {
  const bySku = new Map<string, number>();
  for (const { sku, qty } of items) bySku.set(sku, (bySku.get(sku) ?? 0) + qty);
  return [...bySku.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([sku, qty]) => ({ sku, qty }));
}

export function totalCents(lines: readonly PricedLine[]): number {
  return lines.reduce((sum, line) => sum + line.priceCents * line.qty, 0);
}

/** Reasons of business refusals, as the orchestrator records them on the cancelled order. */
export const refusal = {
  unknownSku: (sku: string) => `unknown sku ${sku}`,
  outOfStock: (sku: string, wantedQty: number, stockQty: number) =>
    `out of stock: ${sku} (wanted ${wantedQty}, ${stockQty} available)`,
  alreadyReleased: (orderId: string) => `reservation of order ${orderId} was already released`,
  noItems: () => 'order has no items',
} as const;

/** Why a product row could not give `wantedQty`: it does not exist, or has too little stock. */
export function refusalFor(line: OrderLine, product: { stock: number } | undefined): string {
  return product === undefined
    ? refusal.unknownSku(line.sku)
    : refusal.outOfStock(line.sku, line.qty, product.stock);
}
