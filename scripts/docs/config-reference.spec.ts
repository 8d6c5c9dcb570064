import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { withReference } from './config-reference.js';

describe('docs/operations.md', () => {
  it('has the configuration reference the config schemas generate (run `npm run docs:config` when this fails)', async () => {
    const file = path.resolve(import.meta.dirname, '../../docs/operations.md');
    const document = await readFile(file, 'utf8');
    expect(withReference(document)).toBe(document);
  });
});
