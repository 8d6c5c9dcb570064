import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A temporary copy of what `npm run new:service` reads and edits (never the real tree): the shared files it edits,
 * libs/ (so the generated app type-checks against them), an empty folder per existing app, and node_modules linked.
 */
export function copyRepoForGenerator(): { root: string; remove: () => void } {
  const root = mkdtempSync(path.join(os.tmpdir(), 'concord-new-service-'));
  const copy = (relative: string): void =>
    cpSync(path.join(REPO_ROOT, relative), path.join(root, relative), { recursive: true });
  for (const file of [
    'package.json',
    'tsconfig.json',
    '.prettierrc',
    'nest-cli.json',
    'libs',
    'docker/compose.yaml',
    'docker/postgres-init',
    'docker/nats',
    'docker/.env.example',
    'scripts/docs/config-reference.ts',
  ]) {
    copy(file);
  }
  for (const app of readdirSync(path.join(REPO_ROOT, 'apps')))
    mkdirSync(path.join(root, 'apps', app), { recursive: true });
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}
