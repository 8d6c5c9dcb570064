/**
 * Prints where a V8 CPU profile (node --cpu-prof) spends its time: the top functions by self time, and
 * the same grouped by package or source folder.
 *   npx tsx scripts/bench-gateway/profile-summary.ts <file.cpuprofile> [top=30] [skipSeconds=5]
 * The first skipSeconds (start-up: module loading, JIT) are left out, and so is idle time.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, skipArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: profile-summary.ts <file.cpuprofile> [top]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
const skipUs = Number(skipArg ?? 5) * 1e6;
let elapsedUs = 0;
profile.samples.forEach((id, i) => {
  const delta = profile.timeDeltas[i] ?? 0;
  elapsedUs += delta;
  if (elapsedUs < skipUs || byIdName(id) === '(idle)') return;
  selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
});
function byIdName(id: number): string {
  return byId.get(id)?.callFrame.functionName ?? '';
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const byFunction = new Map<string, number>();
const byArea = new Map<string, number>();
for (const [id, us] of selfUs) {
  const frame = byId.get(id)!.callFrame;
  const where = frame.url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, 'npm:');
  const name = `${frame.functionName || '(anonymous)'} ${where ? `${where.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}` : ''}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  const area = where.startsWith('npm:')
    ? where
        .split('/')
        .slice(0, where.startsWith('npm:@') ? 2 : 1)
        .join('/')
    : where.startsWith('node:')
      ? 'node core'
      : where === ''
        ? `(${frame.functionName || 'native'})`
        : where.includes('/dist/')
          ? `concord ${where.split('/dist/')[1]!.split('/').slice(0, 3).join('/')}`
          : where;
  byArea.set(area, (byArea.get(area) ?? 0) + us);
}
const print = (title: string, map: Map<string, number>, top: number): void => {
  process.stdout.write(`\n${title}\n`);
  for (const [name, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${name}\n`);
  }
};
// Inclusive time of the gateway's own functions (dist/...): a sample counts once for every distinct gateway
// function on its stack, so a feature's line says what the request path would save without it.
const parentOf = new Map<number, number>();
for (const node of profile.nodes as (ProfileNode & { children?: number[] })[])
  for (const child of node.children ?? []) parentOf.set(child, node.id);
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
    const frame = byId.get(at)!.callFrame;
    if (!frame.url.includes('/dist/') && !frame.url.includes('/scripts/')) continue;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + us);
  }
}
print('By area (self time)', byArea, 25);
print('By function (self time)', byFunction, Number(topArg ?? 30));
print('Gateway functions (inclusive time)', inclusive, Number(topArg ?? 30));
