import { DEFAULT_PORTS } from '@concord/contracts';
import { type DemoContext, field, http, killOnPort, pollUntil, restartKilled, sleep } from '../context.js';

const keyCount = 32;

interface InstanceState {
  readonly id: string;
  readonly healthy: boolean;
  readonly ejected: boolean;
  readonly breaker: string;
  readonly keyShare: number;
}

async function inventoryRing(ctx: DemoContext): Promise<InstanceState[]> {
  const answer = await http(`${ctx.stack.gatewayUrl}/admin/rings`, { token: ctx.stack.adminToken });
  const services = field(answer.body, 'services');
  if (!Array.isArray(services)) return [];
  const inventory = services.find((s) => field(s, 'service') === 'inventory') as unknown;
  const instances = field(inventory, 'instances');
  if (!Array.isArray(instances)) return [];
  return instances.map((i) => ({
    id: String(field(i, 'id')),
    healthy: field(i, 'healthy') === true,
    ejected: field(i, 'ejected') === true,
    breaker: String(field(i, 'breaker')),
    keyShare: Number(field(i, 'keyShare')),
  }));
}

const describeRing = (ring: readonly InstanceState[]): string =>
  ring.length === 0
    ? '(no instances)'
    : ring
        .map(
          (i) =>
            `${i.id}: ${i.healthy ? 'healthy' : 'unhealthy'}${i.ejected ? ', ejected' : ''}, breaker ${i.breaker}, share ${(i.keyShare * 100).toFixed(0)}%`,
        )
        .join(' | ');

/** One GET per key through the gateway; the instance that answered each (or the failure). */
async function sweep(ctx: DemoContext, sku: string): Promise<Map<string, string>> {
  const served = new Map<string, string>();
  await Promise.all(
    Array.from({ length: keyCount }, async (_, k) => {
      const key = `customer-${k}`;
      const answer = await http(`${ctx.stack.gatewayUrl}/api/inventory/v1/products/${sku}`, {
        token: ctx.stack.userToken,
        headers: { 'x-hash-key': key },
      });
      served.set(
        key,
        answer.status === 200
          ? (answer.headers.get('x-upstream-instance') ?? '?')
          : `failed:${answer.status}`,
      );
    }),
  );
  return served;
}

/**
 * One inventory instance dies under traffic: the gateway's breaker and health checks take it out, its keys move to
 * the survivor, and the survivor's own keys never move (bounded-load consistent hashing skips, never reshuffles).
 */
export async function instanceFailure(ctx: DemoContext): Promise<void> {
  const { narrator: n, stack } = ctx;
  const sku = `demo-if-${ctx.runId}`;
  n.step('a product to read, and the ring as the gateway sees it');
  const created = await http(`${stack.gatewayUrl}/api/inventory/v1/products`, {
    method: 'POST',
    token: stack.userToken,
    body: { sku, name: `demo ${sku}`, priceCents: 100, stock: 10 },
  });
  if (created.status !== 201) {
    n.check(
      'the gateway creates a product',
      false,
      `POST answered ${created.status}: ${JSON.stringify(created.body)}`,
    );
    return;
  }
  n.say(`ring: ${describeRing(await inventoryRing(ctx))}`);

  const baseline = await sweep(ctx, sku);
  const byInstance = new Map<string, string[]>();
  for (const [key, instance] of baseline)
    byInstance.set(instance, [...(byInstance.get(instance) ?? []), key]);
  n.say(`${keyCount} hash keys: ${[...byInstance].map(([i, keys]) => `${keys.length} on ${i}`).join(', ')}`);
  const victim = baseline.get('customer-0') ?? '';
  const victimIndex = Number(/^inventory-(\d+)$/.exec(victim)?.[1]);
  const victimPort = DEFAULT_PORTS.inventory[victimIndex - 1];
  if (victimPort === undefined) {
    n.check('the baseline traffic is served by inventory instances', false, `customer-0 went to ${victim}`);
    return;
  }
  const victimKeys = byInstance.get(victim) ?? [];
  const survivorKeys = [...baseline].filter(([, i]) => i !== victim && !i.startsWith('failed'));

  n.step(`kill ${victim}, which serves customer-0, while traffic keeps flowing`);
  const killed = await killOnPort(ctx, victim, victimPort);
  let failed = 0;
  let requests = 0;
  let survivorsMoved = 0;
  let victimKeysServedElsewhere = true;
  let outSeen = false;
  const seen = new Set<string>();
  const outDeadlineMs = n.elapsedMs() + 20_000;
  for (let round = 1; n.elapsedMs() < outDeadlineMs; round++) {
    const served = await sweep(ctx, sku);
    requests += served.size;
    const failures = [...served.values()].filter((i) => i.startsWith('failed')).length;
    failed += failures;
    for (const [key, instance] of survivorKeys) if (served.get(key) !== instance) survivorsMoved++;
    for (const key of victimKeys)
      if (served.get(key) === victim || served.get(key)?.startsWith('failed'))
        victimKeysServedElsewhere = false;
    const ring = await inventoryRing(ctx);
    const victimState = ring.find((i) => i.id === victim);
    n.say(`round ${round}: ${served.size - failures}/${served.size} answered; ring: ${describeRing(ring)}`);
    const signs =
      victimState === undefined
        ? ['removed from the registry']
        : [
            ...(victimState.ejected ? ['ejected by outlier detection'] : []),
            ...(victimState.breaker !== 'closed' ? [`breaker ${victimState.breaker}`] : []),
            ...(victimState.healthy ? [] : ['failing its health checks']),
          ];
    for (const sign of signs) {
      if (seen.has(sign)) continue;
      seen.add(sign);
      n.say(`${victim}: ${sign}, passed over in the ring walk`);
    }
    outSeen ||= signs.length > 0;
    const breakerOpenOrGone = victimState === undefined || victimState.breaker !== 'closed';
    if (outSeen && breakerOpenOrGone && round >= 3) break;
    await sleep(1_000);
  }

  n.check(`the gateway took ${victim} out (breaker, health or registry)`, outSeen, 'GET /admin/rings');
  n.check('every request after the kill was answered', failed === 0, `${requests - failed}/${requests}`);
  n.check(
    `the keys of ${victim} moved to the survivor`,
    victimKeysServedElsewhere && victimKeys.length > 0,
    `${victimKeys.length} keys`,
  );
  n.check(
    "the survivor's keys kept their instance (X-Upstream-Instance)",
    survivorsMoved === 0 && survivorKeys.length > 0,
    `${survivorKeys.length} keys, ${survivorsMoved} moves`,
  );

  n.step(`restore ${victim}`);
  if (await restartKilled(ctx, killed)) {
    const back = await pollUntil(
      async () => {
        const served = await sweep(ctx, sku);
        return victimKeys.every((k) => served.get(k) === victim) ? true : undefined;
      },
      30_000,
      1_000,
    );
    n.say(
      back === true
        ? `${victim}'s keys are back on it: affinity restored`
        : `${victim}'s keys have not all come back yet`,
    );
    n.say(`ring: ${describeRing(await inventoryRing(ctx))}`);
  }
}
