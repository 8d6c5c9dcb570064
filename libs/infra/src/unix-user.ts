import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A Unix account to run a server as. */
export interface UnixUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** True when this process runs as root (never on Windows, which has no getuid). */
export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Finds `name` in the text of /etc/passwd (`name:x:uid:gid:gecos:home:shell` per line). */
export function parsePasswd(passwdText: string, name: string): UnixUser | undefined {
  for (const line of passwdText.split('\n')) {
    const fields = line.split(':');
    if (fields[0] !== name || fields.length < 4) continue;
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (Number.isInteger(uid) && Number.isInteger(gid)) return { name, uid, gid };
  }
  return undefined;
}

/** Looks `name` up with `getent` (which also sees LDAP or NSS users), else in /etc/passwd. */
export async function findUser(name: string): Promise<UnixUser | undefined> {
  try {
    const { stdout } = await execFileAsync('getent', ['passwd', name]);
    return parsePasswd(stdout, name);
  } catch {
    try {
      return parsePasswd(fs.readFileSync('/etc/passwd', 'utf8'), name);
    } catch {
      return undefined;
    }
  }
}

/**
 * Returns the system account `name`, creating it (no home, no login shell) when it is missing. Root only.
 * Two test processes may race to create it; the loser's `useradd` fails and the account is simply looked up again.
 */
export async function ensureSystemUser(name: string): Promise<UnixUser> {
  const existing = await findUser(name);
  if (existing) return existing;
  let failure: unknown;
  try {
    await execFileAsync('useradd', [
      '--system',
      '--user-group',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      name,
    ]);
  } catch (error: unknown) {
    failure = error;
  }
  const created = await findUser(name);
  if (created) return created;
  throw new Error(
    `cannot create the unprivileged user '${name}' to run PostgreSQL as (PostgreSQL refuses to run as root); ` +
      `create it yourself (e.g. 'useradd --system --user-group ${name}') or run as a normal user`,
    { cause: failure },
  );
}

/**
 * Gives "others" search permission (o+x) on every ancestor of `target` that lacks it, so that a server running as
 * another user can reach `target` (e.g. a data dir under /root). Only traversal is granted, never listing or reading.
 */
export function makeAncestorsTraversable(target: string): string[] {
  const changed: string[] = [];
  let dir = path.dirname(path.resolve(target));
  for (;;) {
    const mode = fs.statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      fs.chmodSync(dir, (mode & 0o7777) | 0o001);
      changed.push(dir);
    }
    const parent = path.dirname(dir);
    if (parent === dir) return changed;
    dir = parent;
  }
}

/** Changes the owner of `root` and everything below it (symlinks themselves, not their targets). */
export function chownTree(root: string, user: UnixUser): void {
  const visit = (entry: string): void => {
    const stat = fs.lstatSync(entry);
    if (stat.uid !== user.uid || stat.gid !== user.gid) fs.lchownSync(entry, user.uid, user.gid);
    if (stat.isDirectory()) for (const child of fs.readdirSync(entry)) visit(path.join(entry, child));
  };
  visit(root);
}
