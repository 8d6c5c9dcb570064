/** `npm run docs:config`: regenerates the configuration reference in docs/operations.md from the config schemas. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { withReference } from './docs/config-reference.js';

const file = path.resolve(import.meta.dirname, '../docs/operations.md');
const before = await readFile(file, 'utf8');
const after = withReference(before);
if (after === before) process.stdout.write('docs/operations.md: configuration reference is up to date\n');
else {
  await writeFile(file, after);
  process.stdout.write('docs/operations.md: configuration reference regenerated\n');
}
