/**
 * `npm run bench:cache` against a running `npm run stack`: what consistent hashing at the gateway does for the
 * services' per-instance read caches. The same Zipf (s = 1.1) stream of product reads over 500 skus goes
 * (a) through the gateway with `X-Hash-Key: <sku>` (each sku pinned to one inventory instance) and (b) round-robin
 * straight to the two inventory instances (each sku cached, and missed, on both). Hit ratios come from the
 * instances' own `cache_hits_total` / `cache_misses_total`, read before and after each phase.
 * Both phases are paced at the same request rate (entries expire after CACHE_TTL_MS, so a faster phase would
 * hit more for that reason alone). Options: --requests N (per phase, default 6000), --concurrency N (default 8),
 * --rate N requests per second (default 400).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_PORTS } from '@concord/contracts';
import { seededRandom, ZipfSampler } from '@concord/hashring';
import { signJwt } from '../apps/gateway/src/edge/jwt.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const REQUESTS = arg('--requests', 6_000);
const CONCURRENCY = arg('--concurrency', 8);
/** Both phases run at this fixed request rate: cache entries expire by time, so the rate must be the same. */
const RATE = arg('--rate', 400);
const SKUS = 500;
const data = path.resolve(import.meta.dirname, '../.data');
const gateway = `http://127.0.0.1:${DEFAULT_PORTS.gateway}`;
const instances = DEFAULT_PORTS.inventory.map((p) => `http://127.0.0.1:${p}`);

const secret = (
  await readFile(path.join(data, 'gateway-jwt-secret'), 'utf8').catch(() => {
    process.stderr.write('bench:cache needs a running `npm run stack` (no .data/gateway-jwt-secret)\n');
    process.exit(2);
  })
).trim();
const now = Math.floor(Date.now() / 1000);
const jwt = signJwt({ sub: 'bench-cache', iat: now, exp: now + 3600 }, { hs256Secret: secret });
const auth = { authorization: `Bearer ${jwt}` };

async function counters(): Promise<{ hits: number; misses: number }> {
  let hits = 0;
  let misses = 0;
  for (const url of instances) {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split('\n')) {
      const m = /^cache_(hits|misses)_total\{cache="products"\} (\d+)/.exec(line);
      if (m?.[1] === 'hits') hits += Number(m[2]);
      if (m?.[1] === 'misses') misses += Number(m[2]);
    }
  }
  return { hits, misses };
}

async function phase(
  name: string,
  target: (sku: string, i: number) => { url: string; headers: Record<string, string> },
) {
  const zipf = new ZipfSampler(SKUS, 1.1, seededRandom(42));
  const before = await counters();
  let next = 0;
  const started = performance.now() + 1;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const due = started + (i * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const sku = `bench-${zipf.next()}`;
        const { url, headers } = target(sku, i);
        const response = await fetch(url, { headers });
        if (response.status !== 200) throw new Error(`${url}: ${response.status} ${await response.text()}`);
        await response.arrayBuffer();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const after = await counters();
  const hits = after.hits - before.hits;
  const misses = after.misses - before.misses;
  return { name, hits, misses, ratio: hits / Math.max(1, hits + misses), rps: REQUESTS / seconds };
}

// Products to read (a repeat run finds them: 409 is fine).
for (let k = 0; k < SKUS; k++) {
  const response = await fetch(`${gateway}/api/inventory/v1/products`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ sku: `bench-${k}`, name: `bench ${k}`, priceCents: 100, stock: 1_000 }),
  });
  if (response.status !== 201 && response.status !== 409) throw new Error(`create: ${response.status}`);
}

const hashed = await phase('gateway, consistent hashing on X-Hash-Key', (sku) => ({
  url: `${gateway}/api/inventory/v1/products/${sku}`,
  headers: { ...auth, 'x-hash-key': sku },
}));
const roundRobin = await phase('round-robin over the instances', (sku, i) => ({
  url: `${instances[i % instances.length]}/v1/products/${sku}`,
  headers: {},
}));

const rows = [hashed, roundRobin].map(
  (r) =>
    `| ${r.name} | ${REQUESTS} | ${r.hits} | ${r.misses} | ${(r.ratio * 100).toFixed(1)} % | ${r.rps.toFixed(0)} |`,
);
process.stdout.write(
  [
    `Read-cache hit ratio, 2 inventory instances, ${SKUS} skus, Zipf s = 1.1, ${CONCURRENCY} clients at ${RATE} req/s`,
    '',
    '| routing | requests | hits | misses | hit ratio | req/s |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `hashing / round-robin hit ratio: ${(hashed.ratio / Math.max(1e-9, roundRobin.ratio)).toFixed(2)}`,
    '',
  ].join('\n'),
);
