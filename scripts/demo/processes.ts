import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/*
 * Finding and restarting the stack's processes through /proc (Linux). `npm run stack` prints the pids, but a pid
 * is found again here from the port the process listens on, so the demos work whatever the table said.
 */

/** The socket inodes listening on `port` in one /proc/net/tcp or tcp6 table (pure). */
export function listeningInodes(table: string, port: number): string[] {
  const inodes: string[] = [];
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    const state = fields[3];
    const inode = fields[9];
    if (local === undefined || state !== '0A' || inode === undefined) continue; // 0A: LISTEN
    const hexPort = local.split(':').pop() ?? '';
    if (Number.parseInt(hexPort, 16) === port && inode !== '0') inodes.push(inode);
  }
  return inodes;
}

/** A NUL-separated /proc file (cmdline, environ) as its entries (pure). */
export function nulSeparated(raw: string): string[] {
  return raw.split('\0').filter((s) => s.length > 0);
}

/** /proc/<pid>/environ as a record (pure). */
export function parseEnviron(raw: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of nulSeparated(raw)) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/** The parent pid from /proc/<pid>/stat; the command name may hold spaces and parentheses (pure). */
export function parentPid(stat: string): number {
  const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(afterName[1]);
}

const readOrEmpty = (file: string): string => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
};

/** The pid of the process listening on `port`, or undefined. Reads only our own user's processes' fds. */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set([
    ...listeningInodes(readOrEmpty('/proc/net/tcp'), port),
    ...listeningInodes(readOrEmpty('/proc/net/tcp6'), port),
  ]);
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // another user's process, or gone
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match?.[1] !== undefined && inodes.has(match[1])) return Number(entry);
    }
  }
  return undefined;
}

/** Everything needed to start a process again as it was started. */
export interface ProcessImage {
  readonly pid: number;
  /** The stack's own process: the parent, or the one a keeper of an earlier restart watches. */
  readonly stackPid: number;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

/** Reads a live process's command line, environment, working directory and parent from /proc. */
export function processImage(pid: number): ProcessImage {
  const parent = parentPid(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return {
    pid,
    stackPid: watchedBy(nulSeparated(readOrEmpty(`/proc/${parent}/cmdline`))) ?? parent,
    argv: nulSeparated(readFileSync(`/proc/${pid}/cmdline`, 'utf8')),
    env: parseEnviron(readFileSync(`/proc/${pid}/environ`, 'utf8')),
    cwd: readlinkSync(`/proc/${pid}/cwd`),
  };
}

/** The stack pid a keeper shell watches, from the keeper's command line; undefined for any other process (pure). */
export function watchedBy(parentArgv: readonly string[]): number | undefined {
  if (parentArgv[3] !== KEEPER_NAME) return undefined;
  const pid = Number(parentArgv[4]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The shell that keeps a restarted process tied to the stack: it runs the process (output appended to the log the
 * stack wrote), checks once a second that the stack's own process still lives, and when the stack has gone (Ctrl-C)
 * stops the process with SIGTERM. So a restart leaves the stack whole, and its Ctrl-C still leaves nothing behind.
 */
export const KEEPER_NAME = 'concord-keeper';

export const KEEPER_SCRIPT = [
  'stack_pid=$1; log=$2; shift 2',
  '"$@" >>"$log" 2>&1 </dev/null &',
  'child=$!',
  "trap 'kill -TERM $child 2>/dev/null; wait $child; exit 0' TERM INT HUP",
  'while kill -0 "$stack_pid" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done',
  'kill -TERM "$child" 2>/dev/null',
  'wait "$child"',
].join('\n');

/**
 * Starts `image` again with its command line, environment and working directory, under the keeper shell.
 * Returns the keeper's pid (the process group of both). Resolves once spawned; readiness is the caller's business.
 */
export async function restartProcess(image: ProcessImage, logFile: string): Promise<number> {
  const [command, ...args] = image.argv;
  if (command === undefined) throw new Error(`pid ${image.pid}: empty command line`);
  const keeper = spawn(
    '/bin/sh',
    ['-c', KEEPER_SCRIPT, KEEPER_NAME, String(image.stackPid), logFile, command, ...args],
    {
      cwd: image.cwd,
      env: image.env,
      detached: true,
      stdio: 'ignore',
    },
  );
  await new Promise<void>((resolve, reject) => {
    keeper.once('spawn', resolve);
    keeper.once('error', reject);
  });
  keeper.unref();
  if (keeper.pid === undefined) throw new Error('the keeper shell has no pid');
  return keeper.pid;
}
