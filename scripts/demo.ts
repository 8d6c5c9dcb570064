/**
 * `npm run demo -- <scenario>`: live demonstrations against a running `npm run stack`. Each one narrates what
 * happens as it happens, checks its own claims and prints PASS or FAIL (exit 0 or 1); an unknown scenario prints the
 * usage on stderr (exit 2). The scenarios are in scripts/demo/scenarios/; docs/extending.md lists them.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { DemoSetupError, loadStackAccess } from './demo/context.js';
import { Narrator } from './demo/narrator.js';
import { findScenario, usage } from './demo/scenarios.js';

const scenario = findScenario(process.argv.slice(2));
if (scenario === undefined) {
  process.stderr.write(`${usage()}\n`);
  process.exit(2);
}

const root = path.resolve(import.meta.dirname, '..');
const narrator = new Narrator();
let code: 0 | 1;
try {
  const stack = loadStackAccess(root, process.env, Date.now());
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  narrator.say(`demo ${scenario.name} (run ${runId}): ${scenario.summary}`);
  if (scenario.kills) {
    narrator.say(
      'this demo SIGKILLs a process of the stack; it restarts it afterwards with the same command line and environment',
    );
  }
  await scenario.run({ stack, narrator, runId });
  code = narrator.verdict(scenario.name);
} catch (error) {
  narrator.check(
    'the demo ran to its end',
    false,
    error instanceof DemoSetupError ? error.message : String((error as Error).stack ?? error),
  );
  code = narrator.verdict(scenario.name);
  if (scenario.kills)
    narrator.say(
      'if a process was killed and not restarted: stop the stack (Ctrl-C) and run npm run stack again',
    );
}
process.exit(code);
