// `npx tsx scripts/lincheck-generate.ts append|cas [--seed S] [--clients C] [--operations N] [--keys K]
//  [--unknown F] [--violation] > FILE`: writes a synthetic history for `npm run lincheck` (see
// libs/lincheck/src/generate.ts): `append` as Jepsen kv (the shared kv fixtures' format), `cas` as jsonl.
// Defaults: append = 50 clients, 2,000 operations (~4,000 lines), 10 keys; cas = 8 clients, 185,000
// operations, 3 keys, 0.6 of the writes of unknown outcome (a third of all operations, as in issue #12).
import { generateHistory, toJepsenKv, toJsonl } from '../libs/lincheck/src/generate.js';

const [workload, ...rest] = process.argv.slice(2).filter((a) => a !== '--');
if (workload !== 'append' && workload !== 'cas') {
  process.stderr.write(
    'usage: lincheck-generate append|cas [--seed S] [--clients C] [--operations N] [--keys K] [--unknown F] [--violation]\n',
  );
  process.exit(2);
}
const numbers: Record<string, number> =
  workload === 'append'
    ? { seed: 1, clients: 50, operations: 2_000, keys: 10, unknown: 0 }
    : { seed: 1, clients: 8, operations: 185_000, keys: 3, unknown: 0.6 };
let violation = false;
for (let i = 0; i < rest.length; i++) {
  const name = (rest[i] ?? '').replace(/^--/, '');
  if (name === 'violation') violation = true;
  else if (name in numbers && Number.isFinite(Number(rest[i + 1]))) numbers[name] = Number(rest[++i]);
  else {
    process.stderr.write(`lincheck-generate: bad argument ${rest[i] ?? ''}\n`);
    process.exit(2);
  }
}
const generated = generateHistory({
  workload,
  seed: numbers.seed ?? 1,
  clients: numbers.clients ?? 8,
  operations: numbers.operations ?? 1_000,
  keys: numbers.keys ?? 3,
  unknownFraction: numbers.unknown ?? 0,
  violation,
});
process.stdout.write(
  workload === 'append'
    ? toJepsenKv(generated.operations, numbers.clients ?? 50)
    : toJsonl(generated.operations),
);
