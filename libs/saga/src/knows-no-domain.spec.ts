import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The engine knows no domain: Concord's example (orders, stock, payments) lives in the apps that run it. A word
 * of that domain in libs/saga (code, comment or test; this file aside) fails here; SQL's `ORDER BY` is not one.
 */
const domainWord =
  /\b(orders?|order-?ids?|place-?orders?|stock|skus?|payments?|inventory|funds|customers?)\b/i;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

describe('libs/saga', () => {
  it('holds no word of the example domain', () => {
    const root = join(import.meta.dirname, '..');
    const others = sources(root).filter((file) => file !== import.meta.filename);
    const found = others.flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `${file}:${i + 1}`, line: line.replace(/ORDER BY/g, '') }))
        .filter(({ line }) => domainWord.test(line))
        .map(({ where, line }) => `${where}: ${line.trim()}`),
    );
    expect(found).toEqual([]);
  });
});
