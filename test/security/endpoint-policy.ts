/**
 * Who may call each endpoint of each service: the policy the security suite checks against every endpoint that
 * the services' OpenAPI documents list. An endpoint missing here fails the suite, so a new route cannot ship
 * without a decision.
 *
 * - `admin`: the admin scope only.
 * - `customer`: the customer named in the request (body, query or path), or an admin.
 * - `any`: any verified internal token for the service.
 */
export type Policy = 'admin' | 'customer' | 'any';
export type SecuredApp = 'orders' | 'inventory' | 'payments' | 'orchestrator';

export interface Fixture {
  readonly customer: string;
  readonly sku: string;
  readonly orderId: string;
  readonly sagaId: string;
}

/** A request that is valid for `fixture.customer`: what the auth cases send. */
export interface ValidRequest {
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface Endpoint {
  readonly app: SecuredApp;
  readonly method: 'GET' | 'POST';
  /** As in the OpenAPI document: `/v1/orders/{id}`. */
  readonly path: string;
  readonly policy: Policy;
  readonly valid: (f: Fixture, nonce: string) => ValidRequest;
  /** Validates its query string (unknown keys and bad values are 400); others ignore it. */
  readonly query?: true;
}

const idem = (nonce: string) => ({ 'idempotency-key': `sec-${nonce}` });

export const ENDPOINTS: readonly Endpoint[] = [
  {
    app: 'orders',
    method: 'POST',
    path: '/v1/orders',
    query: true,
    policy: 'customer',
    valid: (f, n) => ({
      path: '/v1/orders',
      body: { customerId: f.customer, items: [{ sku: f.sku, qty: 1 }], mode: 'saga' },
      headers: idem(n),
    }),
  },
  {
    app: 'orders',
    method: 'GET',
    path: '/v1/orders',
    query: true,
    policy: 'customer',
    valid: (f) => ({ path: `/v1/orders?customerId=${f.customer}` }),
  },
  {
    app: 'orders',
    method: 'GET',
    path: '/v1/orders/{id}',
    policy: 'customer',
    valid: (f) => ({ path: `/v1/orders/${f.orderId}` }),
  },
  {
    app: 'inventory',
    method: 'POST',
    path: '/v1/products',
    policy: 'admin',
    valid: (_f, n) => ({
      path: '/v1/products',
      body: { sku: `sec-${n}`, name: 'x', priceCents: 1, stock: 1 },
    }),
  },
  {
    app: 'inventory',
    method: 'GET',
    path: '/v1/products',
    query: true,
    policy: 'any',
    valid: () => ({ path: '/v1/products' }),
  },
  {
    app: 'inventory',
    method: 'GET',
    path: '/v1/products/{sku}',
    policy: 'any',
    valid: (f) => ({ path: `/v1/products/${f.sku}` }),
  },
  {
    app: 'inventory',
    method: 'POST',
    path: '/v1/products/{sku}/receipts',
    policy: 'admin',
    valid: (f) => ({ path: `/v1/products/${f.sku}/receipts`, body: { qty: 1 } }),
  },
  {
    app: 'payments',
    method: 'POST',
    path: '/v1/accounts',
    policy: 'customer',
    valid: (f) => ({ path: '/v1/accounts', body: { customerId: f.customer } }),
  },
  {
    app: 'payments',
    method: 'GET',
    path: '/v1/accounts/{customerId}',
    policy: 'customer',
    valid: (f) => ({ path: `/v1/accounts/${f.customer}` }),
  },
  {
    app: 'payments',
    method: 'POST',
    path: '/v1/accounts/{customerId}/deposits',
    policy: 'admin',
    valid: (f) => ({ path: `/v1/accounts/${f.customer}/deposits`, body: { amountCents: 1 } }),
  },
  {
    app: 'payments',
    method: 'GET',
    path: '/v1/accounts/{customerId}/ledger',
    query: true,
    policy: 'customer',
    valid: (f) => ({ path: `/v1/accounts/${f.customer}/ledger` }),
  },
  {
    app: 'orchestrator',
    method: 'POST',
    path: '/v1/sagas/{type}',
    policy: 'admin',
    valid: (f, n) => ({
      path: '/v1/sagas/place-order',
      body: { orderId: `sec-${n}`, customerId: f.customer, items: [{ sku: f.sku, qty: 1 }] },
      headers: idem(n),
    }),
  },
  {
    app: 'orchestrator',
    method: 'GET',
    path: '/v1/sagas/{id}',
    policy: 'admin',
    valid: (f) => ({ path: `/v1/sagas/${f.sagaId}` }),
  },
  {
    app: 'orchestrator',
    method: 'GET',
    path: '/v1/sagas',
    query: true,
    policy: 'admin',
    valid: () => ({ path: '/v1/sagas' }),
  },
  {
    app: 'orchestrator',
    method: 'POST',
    path: '/v1/transactions',
    policy: 'admin',
    valid: (f, n) => ({
      path: '/v1/transactions',
      body: {
        type: 'place-order',
        input: { orderId: `sec-${n}`, customerId: f.customer, items: [{ sku: f.sku, qty: 1 }] },
      },
      headers: idem(n),
    }),
  },
  {
    app: 'orchestrator',
    method: 'GET',
    path: '/v1/transactions/{id}',
    policy: 'admin',
    valid: (f) => ({ path: `/v1/transactions/${f.sagaId}` }),
  },
  {
    app: 'orchestrator',
    method: 'GET',
    path: '/v1/transactions',
    query: true,
    policy: 'admin',
    valid: () => ({ path: '/v1/transactions' }),
  },
];

/** Routes every app has that are not API endpoints: health open, metrics and docs operator-only. */
export const PLATFORM_PATHS = new Set(['/health', '/health/ready', '/metrics']);
