/**
 * A small client of the domain services' public API. It only needs the base URL of each service, so pointing the
 * end-to-end test at the gateway is a matter of `(service) => \`${gatewayUrl}/api/${service}\``.
 */

export type ServiceName = 'orders' | 'inventory' | 'payments';

export interface PlacedOrder {
  orderId: string;
  transactionId: string | null;
  status: 'PENDING' | 'CONFIRMED' | 'CANCELLED';
  totalCents: number | null;
  reason?: string;
}

export class DomainApi {
  /** `token`: one bearer token for every call, or one per service (internal tokens name their audience). */
  constructor(
    private readonly baseUrl: (service: ServiceName) => string,
    private readonly token: string | ((service: ServiceName) => string | Promise<string>),
  ) {}

  async createProduct(sku: string, priceCents: number, stock: number): Promise<void> {
    await this.expect(201, 'inventory', 'POST', '/v1/products', {
      sku,
      name: `product ${sku}`,
      priceCents,
      stock,
    });
  }

  async openAccount(customerId: string, depositCents: number): Promise<void> {
    await this.expect(201, 'payments', 'POST', '/v1/accounts', { customerId });
    if (depositCents > 0) {
      await this.expect(201, 'payments', 'POST', `/v1/accounts/${customerId}/deposits`, {
        amountCents: depositCents,
      });
    }
  }

  /** `POST /v1/orders`; with `wait`, answers once settled (200) or at the server's deadline (202). */
  async placeOrder(
    customerId: string,
    items: Array<{ sku: string; qty: number }>,
    mode: 'saga' | '2pc',
    wait = true,
  ): Promise<{ status: number; body: PlacedOrder }> {
    const response = await this.request('orders', 'POST', `/v1/orders${wait ? '?wait=true' : ''}`, {
      customerId,
      items,
      mode,
    });
    return { status: response.status, body: (await response.json()) as PlacedOrder };
  }

  async order(id: string): Promise<{ status: string; totalCents: number | null; reason?: string }> {
    return (await this.expect(200, 'orders', 'GET', `/v1/orders/${id}`)) as {
      status: string;
      totalCents: number | null;
      reason?: string;
    };
  }

  async get(service: ServiceName, path: string): Promise<unknown> {
    return this.expect(200, service, 'GET', path);
  }

  async text(service: ServiceName, path: string): Promise<string> {
    const response = await fetch(`${this.baseUrl(service)}${path}`);
    return response.text();
  }

  async request(
    service: ServiceName,
    method: string,
    path: string,
    body?: unknown,
    auth = true,
  ): Promise<Response> {
    const token = typeof this.token === 'string' ? this.token : await this.token(service);
    return fetch(`${this.baseUrl(service)}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(auth ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  private async expect(status: number, service: ServiceName, method: string, path: string, body?: unknown) {
    const response = await this.request(service, method, path, body);
    const text = await response.text();
    if (response.status !== status) {
      throw new Error(`${method} ${service}${path}: expected ${status}, got ${response.status}: ${text}`);
    }
    return text.length > 0 ? (JSON.parse(text) as unknown) : undefined;
  }
}
