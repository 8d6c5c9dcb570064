import fs from 'node:fs';
import path from 'node:path';

/** True when `file` is a regular file this process may execute. */
export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The first executable `name` in `searchDirs` (PATH when omitted), then in `fallbacks`; undefined when none.
 * `searchDirs` replaces PATH (tests use it to simulate a machine without the binary).
 */
export function findExecutable(
  name: string,
  searchDirs: readonly string[] | undefined,
  fallbacks: readonly string[],
): string | undefined {
  // The search path is the one piece of the environment read here; it configures nothing of ours.
  const pathDirs =
    searchDirs ?? (process.env['PATH'] ?? '').split(path.delimiter).filter((dir) => dir.length > 0);
  return [...pathDirs.map((dir) => path.join(dir, name)), ...fallbacks].find(isExecutable);
}
