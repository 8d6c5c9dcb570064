/**
 * `npm run chaos:transactions -- --orders 1000`: places orders (half sagas, half 2PC) through the gateway with
 * real JWTs while it SIGKILLs and restarts random orchestrator, orders, inventory and payments instances and
 * restarts nats-server; then waits (at most `--settle-seconds`, default 120) for every order to settle and checks
 * every invariant over REST and SQL. Last stdout line:
 * `{"orders":1000,"confirmed":0,"cancelled":0,"pending":0,"invariantViolations":0,"preparedLeft":0,"faults":0}`.
 * Exit code 1 when orders stay pending, an invariant fails or a prepared transaction is left.
 *
 * It starts its own private topology (built apps under dist/, so `npm run build` first; the npm script does):
 * PostgreSQL, nats-server, one orchestrator, two instances each of orders, inventory and payments, and a gateway
 * over them (STATIC_UPSTREAMS, no coordinator). Options: `--clients 16`, `--fault-every-ms 1500`,
 * `--min-chaos-seconds 20`, `--settle-seconds 120`, `--seed N` (replays the plan).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { freePort, type ProcessHandle } from '@concord/infra';
import { SignJWT } from 'jose';
import pg from 'pg';
import {
  crossCheck,
  exitCodeOf,
  parseChaosArgs,
  planRun,
  seededRandom,
  summarize,
  type PlannedOrder,
} from './chaos/plan.js';
import { DomainApi } from './domain/domain-api.js';
import { builtMain, isBuilt, startDomainStack, type DomainStack } from './domain/domain-stack.js';
import { checkInvariants, readSnapshot } from './domain/invariants.js';
import { handleHelp } from './cli-help.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const log = (message: string): void => void process.stderr.write(`chaos: ${message}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Listed {
  id: string;
  customerId: string;
  status: string;
  totalCents: number | null;
  reason?: string;
}

async function main(): Promise<number> {
  handleHelp(import.meta.filename, process.argv.slice(2), [
    'orders',
    'clients',
    'fault-every-ms',
    'min-chaos-seconds',
    'settle-seconds',
    'seed',
  ]);
  const options = parseChaosArgs(process.argv.slice(2));
  for (const app of ['gateway', 'orchestrator', 'orders', 'inventory', 'payments']) {
    if (!isBuilt(app)) throw new Error(`${builtMain(app)} is missing: run \`npm run build\` first`);
  }
  const random = seededRandom(options.seed ^ 0x5eed);
  const plan = planRun(options.orders, options.seed);
  log(`seed ${options.seed}: ${options.orders} orders, ${options.clients} clients`);

  let stack: DomainStack | undefined;
  try {
    // Orders resends a start the orchestrator has not acknowledged after 2 s (as in the crash tests).
    stack = await startDomainStack({
      orchestrator: false,
      env: {
        orders: {
          ORDER_RESEND_AFTER_MS: '2000',
          ORDER_SWEEP_INTERVAL_MS: '500',
          // Below the gateway's per-try timeout (3 s): a slow order answers 202 PENDING, not a gateway 504.
          ORDER_WAIT_TIMEOUT_MS: '2500',
          LOG_LEVEL: 'warn',
        },
        inventory: { LOG_LEVEL: 'warn' },
        payments: { LOG_LEVEL: 'warn' },
      },
    });
    // The orchestrator runs with its defaults (a step deadline of 15 s): a fault shorter than that delays an
    // order; it does not cancel it.
    const orchestrator = await stack.start('orchestrator', { LOG_LEVEL: 'warn' });
    const second = {
      orders: await stack.start('orders', { LOG_LEVEL: 'warn' }),
      inventory: await stack.start('inventory', { LOG_LEVEL: 'warn' }),
      payments: await stack.start('payments', { LOG_LEVEL: 'warn' }),
    };
    const services = ['orders', 'inventory', 'payments'] as const;
    const upstreams = services
      .map((s) => `${s}=${s}-1@${stack?.urls[s] ?? ''},${s}-2@${second[s].url}`)
      .join(';');
    const secret = randomBytes(32).toString('hex');
    const gatewayPort = await freePort();
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
        JWT_SECRET: secret,
        ADMIN_TOKEN: secret,
        INTERNAL_TOKEN_PRIVATE_KEY: stack.internalKeys.privateKeyPem,
        RATE_LIMIT_PER_SECOND: '100000',
        RATE_LIMIT_BURST: '100000',
      },
      ready: { url: `http://127.0.0.1:${gatewayPort}/health/ready`, timeoutMs: 60_000 },
    });
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const key = new TextEncoder().encode(secret);
    const jwt = (subject: string, scope?: string): Promise<string> =>
      new SignJWT(scope === undefined ? {} : { scope })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(subject)
        .setIssuedAt()
        .setExpirationTime('2h')
        .sign(key);
    const admin = new DomainApi(
      (service) => `${gatewayUrl}/api/${service}`,
      await jwt('chaos-admin', 'admin'),
    );
    const tokens = new Map<string, string>();
    for (const a of plan.seed.accounts) tokens.set(a.customerId, await jwt(a.customerId));

    for (const p of plan.seed.products) await admin.createProduct(p.sku, p.priceCents, p.stock);
    for (const a of plan.seed.accounts) await admin.openAccount(a.customerId, a.depositCents);
    log(
      `seeded ${plan.seed.products.length} products, ${plan.seed.accounts.length} accounts; placing orders`,
    );

    // --- Faults ---------------------------------------------------------------------------------------------
    const victims: Array<{ name: string; process: ProcessHandle } | 'nats'> = [
      { name: 'orchestrator', process: orchestrator.process },
      ...services.flatMap((s) => [{ name: `${s}-2`, process: second[s].process }]),
      'nats',
    ];
    for (const s of services) {
      const name = `${s}-${new URL(stack.urls[s]).port}`;
      const first = stack.processes.processes.find((p) => p.name === name);
      if (first) victims.push({ name: `${s}-1`, process: first });
    }
    // Up to two victims are down (or restarting) at once; a victim being restarted is not picked again.
    let faults = 0;
    let placing = true;
    const down = new Set<(typeof victims)[number]>();
    const restarts: Array<Promise<void>> = [];
    const fault = async (victim: (typeof victims)[number]): Promise<void> => {
      if (!stack) return;
      if (victim === 'nats') {
        log('fault: restart nats-server');
        await stack.nats.restart(1_000);
      } else {
        log(`fault: SIGKILL ${victim.name}`);
        victim.process.sigkill();
        await sleep(random() * 500);
        await victim.process.restart();
      }
      faults++;
    };
    const chaosStarted = Date.now();
    const faulting = (async () => {
      while (placing || Date.now() - chaosStarted < options.minChaosMs) {
        await sleep(options.faultEveryMs * (0.5 + random()));
        const candidates = victims.filter((v) => !down.has(v));
        const victim = candidates[Math.floor(random() * candidates.length)];
        if (victim === undefined || down.size >= 2) continue;
        down.add(victim);
        restarts.push(fault(victim).finally(() => down.delete(victim)));
      }
      await Promise.all(restarts);
    })();

    // --- Orders ---------------------------------------------------------------------------------------------
    let next = 0;
    let answered = 0;
    const place = async (order: PlannedOrder): Promise<void> => {
      const deadline = Date.now() + 60_000;
      for (let attempt = 0; Date.now() < deadline; attempt++) {
        try {
          // ?wait=true: each client waits for its order to settle (200) or for the server's wait deadline (202),
          // as a shop's checkout would; 16 clients are then 16 orders in flight, not an unbounded queue.
          const response = await fetch(`${gatewayUrl}/api/orders/v1/orders?wait=true`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${tokens.get(order.customerId) ?? ''}`,
              'idempotency-key': order.idempotencyKey,
            },
            body: JSON.stringify({ customerId: order.customerId, items: order.items, mode: order.mode }),
            signal: AbortSignal.timeout(30_000),
          });
          await response.text();
          if (response.status === 200 || response.status === 201 || response.status === 202) {
            answered++;
            return;
          }
          if (response.status < 500 && response.status !== 429 && response.status !== 408) {
            throw new Error(`POST /v1/orders answered ${response.status}`);
          }
        } catch (error) {
          if (error instanceof Error && error.message.startsWith('POST')) throw error;
        }
        await sleep(Math.min(2_000, 100 * 2 ** attempt));
      }
      // No answer: the order may exist or not; listing the customer's orders finds it.
    };
    const startedAt = Date.now();
    await Promise.all(
      Array.from({ length: options.clients }, async () => {
        for (let i = next++; i < plan.orders.length; i = next++) {
          const order = plan.orders[i];
          if (order) await place(order);
        }
      }),
    );
    placing = false;
    log(`placed ${plan.orders.length} orders (${answered} answered) in ${Date.now() - startedAt} ms`);
    await faulting;
    log(`faults stopped after ${faults}; settling (at most ${options.settleMs / 1000} s)`);

    // --- Settle and check -----------------------------------------------------------------------------------
    const customers = plan.seed.accounts.map((a) => a.customerId);
    const listAll = async (): Promise<Listed[]> => {
      const all: Listed[] = [];
      for (const customerId of customers) {
        let cursor: string | undefined;
        do {
          const query = `customerId=${encodeURIComponent(customerId)}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const response = await fetch(`${gatewayUrl}/api/orders/v1/orders?${query}`, {
            headers: { authorization: `Bearer ${tokens.get(customerId) ?? ''}` },
            signal: AbortSignal.timeout(10_000),
          });
          if (response.status !== 200) throw new Error(`listing orders answered ${response.status}`);
          const page = (await response.json()) as { items: Listed[]; nextCursor?: string };
          all.push(...page.items);
          cursor = page.nextCursor;
        } while (cursor !== undefined);
      }
      return all;
    };
    const databaseUrls = [...Object.values(stack.databaseUrls), stack.postgres.url('orchestrator')];
    const preparedLeft = async (): Promise<number> => {
      let total = 0;
      for (const url of databaseUrls) {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          const result = await client.query(
            'SELECT 1 FROM pg_prepared_xacts WHERE database = current_database()',
          );
          total += result.rowCount ?? 0;
        } finally {
          await client.end();
        }
      }
      return total;
    };
    const check = async (): Promise<{ listed: Listed[]; violations: string[]; prepared: number }> => {
      const listed = await listAll();
      const snapshot = await readSnapshot(stack?.databaseUrls ?? { orders: '', inventory: '', payments: '' });
      const violations = [
        ...checkInvariants(snapshot),
        ...crossCheck(plan.orders.length, listed, snapshot.orders),
      ];
      if (snapshot.orders.length !== listed.length) {
        violations.push(`${snapshot.orders.length} order rows, ${listed.length} listed over REST`);
      }
      return { listed, violations, prepared: await preparedLeft() };
    };

    const settleDeadline = Date.now() + options.settleMs;
    let last = { listed: [] as Listed[], violations: ['not checked'], prepared: 0 };
    for (;;) {
      try {
        last = await check();
      } catch (error) {
        log(`check failed (${String(error)}); again`);
      }
      const pending = last.listed.filter((o) => o.status === 'PENDING').length;
      if (pending === 0 && last.violations.length === 0 && last.prepared === 0) break;
      if (Date.now() >= settleDeadline) break;
      log(`${pending} pending, ${last.violations.length} violations, ${last.prepared} prepared; waiting`);
      await sleep(2_000);
    }
    for (const v of last.violations.slice(0, 20)) log(`violation: ${v}`);
    const reasons = new Map<string, number>();
    for (const o of last.listed.filter((x) => x.status === 'CANCELLED')) {
      const reason = (o.reason ?? '-')
        .replace(/chaos-\w+-/g, '')
        .replace(/\d+/g, 'N')
        .slice(0, 100);
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    for (const [reason, n] of reasons) log(`cancelled ${n}×: ${reason}`);
    const result = summarize(
      last.listed.map((o) => o.status),
      last.violations.length,
      last.prepared,
      faults,
    );
    if (result.orders !== plan.orders.length) {
      log(`${plan.orders.length - result.orders} orders whose POST got no answer were never created`);
    }
    if (exitCodeOf(result) !== 0) stack.processes.printLogs(undefined, 40);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return exitCodeOf(result);
  } finally {
    await stack?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(2);
  },
);
