import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The page's files, read once at boot from apps/console/public (found from the source or the built code). */
export class ConsoleAssets {
  static readonly FILES = {
    'console.js': 'text/javascript; charset=utf-8',
    'console.css': 'text/css; charset=utf-8',
  } as const;

  private constructor(
    readonly indexHtml: string,
    private readonly files: ReadonlyMap<string, { body: string; type: string }>,
  ) {}

  static load(from = import.meta.dirname): ConsoleAssets {
    const dir = ConsoleAssets.findPublicDir(from);
    const files = new Map(
      Object.entries(ConsoleAssets.FILES).map(([name, type]) => [
        name,
        { body: readFileSync(path.join(dir, name), 'utf8'), type },
      ]),
    );
    return new ConsoleAssets(readFileSync(path.join(dir, 'index.html'), 'utf8'), files);
  }

  /** apps/console/public, walking up from `from` (apps/console/src/page or dist/apps/console/src/page). */
  static findPublicDir(from: string): string {
    for (let dir = from; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'apps', 'console', 'public');
      if (existsSync(path.join(candidate, 'index.html'))) return candidate;
      if (path.dirname(dir) === dir) throw new Error(`apps/console/public not found above ${from}`);
    }
  }

  file(name: string): { body: string; type: string } | undefined {
    return this.files.get(name);
  }
}
