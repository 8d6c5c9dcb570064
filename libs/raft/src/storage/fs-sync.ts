import { open } from 'node:fs/promises';

/**
 * fsync a directory so that files created, renamed or deleted in it survive a crash: fdatasync on a file makes
 * its contents durable, not its name (ext4 and XFS both need this; see the LevelDB and SQLite write-ups).
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
