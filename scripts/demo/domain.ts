import { type DemoContext, DemoSetupError, field, http, pollUntil } from './context.js';

/** The domain API through the gateway, as a user of the stack calls it (JWT; the gateway adds the API token). */
export class Shop {
  constructor(private readonly ctx: DemoContext) {}

  private url(service: string, path: string): string {
    return `${this.ctx.stack.gatewayUrl}/api/${service}${path}`;
  }

  private async expect(
    status: number,
    service: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<unknown> {
    const answer = await http(this.url(service, path), {
      method,
      token: this.ctx.stack.userToken,
      body,
      timeoutMs: 20_000,
    });
    if (answer.status !== status) {
      throw new DemoSetupError(
        `${method} /api/${service}${path}: expected ${status}, got ${answer.status}: ${JSON.stringify(answer.body)}`,
      );
    }
    return answer.body;
  }

  async createProduct(sku: string, priceCents: number, stock: number): Promise<void> {
    await this.expect(201, 'inventory', 'POST', '/v1/products', {
      sku,
      name: `demo ${sku}`,
      priceCents,
      stock,
    });
    this.ctx.narrator.say(`product ${sku}: ${stock} in stock at ${priceCents} cents`);
  }

  async openAccount(customerId: string, depositCents: number): Promise<void> {
    await this.expect(201, 'payments', 'POST', '/v1/accounts', { customerId });
    await this.expect(201, 'payments', 'POST', `/v1/accounts/${customerId}/deposits`, {
      amountCents: depositCents,
    });
    this.ctx.narrator.say(`account ${customerId}: ${depositCents} cents deposited`);
  }

  /** Places an order; with `wait`, the orders service answers once it settled (or 202 at its deadline). */
  async placeOrder(
    customerId: string,
    items: { sku: string; qty: number }[],
    mode: 'saga' | '2pc',
    wait: boolean,
  ): Promise<{ orderId: string; status: string; reason?: string }> {
    const answer = await http(this.url('orders', `/v1/orders${wait ? '?wait=true' : ''}`), {
      method: 'POST',
      token: this.ctx.stack.userToken,
      body: { customerId, items, mode },
      headers: { 'x-hash-key': customerId },
      timeoutMs: 30_000,
    });
    const orderId = field(answer.body, 'orderId');
    if ((answer.status !== 200 && answer.status !== 202) || typeof orderId !== 'string') {
      throw new DemoSetupError(
        `POST /api/orders/v1/orders: ${answer.status}: ${JSON.stringify(answer.body)}`,
      );
    }
    const reason = field(answer.body, 'reason');
    return {
      orderId,
      status: String(field(answer.body, 'status')),
      ...(typeof reason === 'string' ? { reason } : {}),
    };
  }

  async order(orderId: string): Promise<{ status: string; totalCents: number; reason?: string } | undefined> {
    const answer = await http(this.url('orders', `/v1/orders/${orderId}`), {
      token: this.ctx.stack.userToken,
    });
    if (answer.status !== 200) return undefined;
    const reason = field(answer.body, 'reason');
    return {
      status: String(field(answer.body, 'status')),
      totalCents: Number(field(answer.body, 'totalCents') ?? 0),
      ...(typeof reason === 'string' ? { reason } : {}),
    };
  }

  /** Polls every order until none is PENDING or `timeoutMs` passes; narrates progress. Returns the last states. */
  async settle(
    orderIds: readonly string[],
    timeoutMs: number,
  ): Promise<Map<string, { status: string; totalCents: number; reason?: string }>> {
    const states = new Map<string, { status: string; totalCents: number; reason?: string }>();
    let lastPending = -1;
    await pollUntil(
      async () => {
        await Promise.all(
          orderIds.map(async (id) => {
            if (states.get(id)?.status !== undefined && states.get(id)?.status !== 'PENDING') return;
            const state = await this.order(id);
            if (state !== undefined) states.set(id, state);
          }),
        );
        const pending = orderIds.filter((id) => (states.get(id)?.status ?? 'PENDING') === 'PENDING').length;
        if (pending !== lastPending) {
          this.ctx.narrator.say(`${orderIds.length - pending}/${orderIds.length} orders settled`);
          lastPending = pending;
        }
        return pending === 0 ? true : undefined;
      },
      timeoutMs,
      500,
    );
    return states;
  }

  async product(sku: string): Promise<{ stock: number; reserved: number; sold: number }> {
    const body = await this.expect(200, 'inventory', 'GET', `/v1/products/${sku}`);
    return {
      stock: Number(field(body, 'stock')),
      reserved: Number(field(body, 'reserved')),
      sold: Number(field(body, 'sold')),
    };
  }

  async account(
    customerId: string,
  ): Promise<{ balanceCents: number; heldCents: number; capturedCents: number }> {
    const body = await this.expect(200, 'payments', 'GET', `/v1/accounts/${customerId}`);
    return {
      balanceCents: Number(field(body, 'balanceCents')),
      heldCents: Number(field(body, 'heldCents')),
      capturedCents: Number(field(body, 'capturedCents')),
    };
  }
}

/** Summary of settled orders: counts per status and the quantities and amounts of the confirmed ones. */
export function tally(
  states: ReadonlyMap<string, { status: string; totalCents: number }>,
  qtyPerOrder: number,
): { confirmed: number; cancelled: number; pending: number; confirmedQty: number; confirmedCents: number } {
  let confirmed = 0;
  let cancelled = 0;
  let pending = 0;
  let confirmedCents = 0;
  for (const s of states.values()) {
    if (s.status === 'CONFIRMED') {
      confirmed++;
      confirmedCents += s.totalCents;
    } else if (s.status === 'CANCELLED') cancelled++;
    else pending++;
  }
  return { confirmed, cancelled, pending, confirmedQty: confirmed * qtyPerOrder, confirmedCents };
}
