import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import type { Writable } from 'node:stream';

/*
 * Teardown registry: everything this library starts is recorded here, so that nothing outlives the process that
 * started it, however that process ends.
 *
 * - Orderly: `stopAll()` awaits each resource's own `stop()` (fast shutdown, then temp dirs removed), newest first.
 * - Exit, SIGINT/SIGTERM/SIGHUP, uncaught errors: `process.on('exit')` cannot await, so a synchronous last resort
 *   signals every registered process group, waits (bounded) for the leaders to die, SIGKILLs what is left and removes
 *   temp dirs. An uncaught exception emits 'exit' too, so it is covered by the same path.
 * - SIGKILL of this process (a test runner killing a hung worker): no handler runs, so a small watchdog process holds
 *   the read end of a pipe from us; when the pipe closes it does the same cleanup. Children are spawned `detached`
 *   (their own process group) so that the watchdog and we can signal a server together with anything it forked.
 */

/** A process group to signal on emergency teardown. `pgid` is the leader's pid (children are spawned detached). */
interface GroupEntry {
  readonly pgid: number;
  readonly signal: NodeJS.Signals;
}

interface StopperEntry {
  readonly label: string;
  readonly stop: () => Promise<void>;
}

const groups = new Map<number, GroupEntry>();
const dirs = new Map<number, string>();
const stoppers = new Map<number, StopperEntry>();
let nextKey = 1;
let handlersInstalled = false;
let watchdog: { child: ChildProcess; stdin: Writable } | undefined;

const emergencyWaitMs = 5_000;
const emergencyPollMs = 20;

/** Removes a registration; calling it twice is harmless. */
export type Unregister = () => void;

/**
 * Registers a process group for emergency teardown: on exit or a fatal signal it receives `signal` (then SIGKILL if
 * its leader is still alive after a bounded wait). Use the gentlest signal that is still immediate: PostgreSQL's
 * SIGQUIT (immediate shutdown, releases shared memory), SIGKILL for everything else.
 */
export function registerProcessGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): Unregister {
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`not a child's process group: ${pgid}`);
  installHandlers();
  const key = nextKey++;
  groups.set(key, { pgid, signal });
  tellWatchdog({ op: 'group', key, pgid, signal });
  return () => {
    if (groups.delete(key)) tellWatchdog({ op: 'forget', key });
  };
}

/** Registers a directory to delete recursively on emergency teardown (after the processes are gone). */
export function registerTempDir(path: string): Unregister {
  installHandlers();
  const key = nextKey++;
  dirs.set(key, path);
  tellWatchdog({ op: 'dir', key, path });
  return () => {
    if (dirs.delete(key)) tellWatchdog({ op: 'forget', key });
  };
}

/**
 * Registers an orderly stop for {@link stopAll}. The callback should unregister itself (the handles in this library
 * do so in their `stop()`), so a resource stopped by hand is not stopped twice.
 */
export function registerStopper(label: string, stop: () => Promise<void>): Unregister {
  installHandlers();
  const key = nextKey++;
  stoppers.set(key, { label, stop });
  return () => {
    stoppers.delete(key);
  };
}

/**
 * Stops everything this process started through the library, newest first, awaiting each orderly shutdown. Errors
 * do not stop the sweep; they are collected and thrown together at the end as an AggregateError.
 */
export async function stopAll(): Promise<void> {
  const errors: unknown[] = [];
  const pending = [...stoppers.entries()].reverse();
  for (const [key, entry] of pending) {
    stoppers.delete(key);
    try {
      await entry.stop();
    } catch (error: unknown) {
      errors.push(new Error(`stopping ${entry.label} failed`, { cause: error }));
    }
  }
  if (errors.length > 0)
    throw new AggregateError(errors, `stopAll: ${errors.length} resource(s) failed to stop`);
}

/** Number of live registrations, for tests of the teardown itself. */
export function registeredCount(): { groups: number; dirs: number; stoppers: number } {
  return { groups: groups.size, dirs: dirs.size, stoppers: stoppers.size };
}

/** Synchronous last-resort teardown; safe to call more than once. Exported for the stack script's own handlers. */
export function emergencyTeardown(): void {
  const targets = [...groups.values()];
  groups.clear();
  for (const { pgid, signal } of targets) {
    signalGroup(pgid, signal);
    signalGroup(pgid, 'SIGCONT');
  }
  const deadlineMs = Date.now() + emergencyWaitMs;
  while (targets.some(({ pgid }) => isProcessAlive(pgid)) && Date.now() < deadlineMs)
    sleepSync(emergencyPollMs);
  for (const { pgid } of targets) signalGroup(pgid, 'SIGKILL');
  for (const path of dirs.values()) removeDirSync(path);
  dirs.clear();
  stoppers.clear();
}

/**
 * True when `pid` names a running process. A zombie (exited, not yet reaped by us; Node reaps only on the event loop,
 * which does not turn during 'exit') counts as dead.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Format: "pid (comm) state ..."; comm may contain spaces and parentheses, so split at the last ')'.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (error: unknown) {
    if (isErrno(error, 'ENOENT')) return false;
    // No procfs (macOS): fall back to signal 0, which cannot tell a zombie from a live process.
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** Sends `signal` to process group `pgid`; a group that no longer exists is not an error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  // kill(-1) would signal every process we may signal, kill(-0) our own group: never a child's group.
  if (!Number.isInteger(pgid) || pgid <= 1) throw new RangeError(`not a child's process group: ${pgid}`);
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error: unknown) {
    if (isErrno(error, 'ESRCH')) return false;
    throw error;
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function removeDirSync(path: string): void {
  try {
    fs.rmSync(path, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // Best effort during exit: there is nobody left to report to, and the watchdog tries again.
  }
}

function sleepSync(ms: number): void {
  // Atomics.wait blocks the thread without spinning; this runs only inside 'exit' and signal handlers.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', emergencyTeardown);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      // Another listener (the stack script, a test runner) owns this signal: it decides when to exit, and our 'exit'
      // handler still runs then. Alone, we must restore the default behaviour: clean up, then die by the same signal.
      if (process.listenerCount(signal) > 1) return;
      emergencyTeardown();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

type WatchdogMessage =
  | { op: 'group'; key: number; pgid: number; signal: NodeJS.Signals }
  | { op: 'dir'; key: number; path: string }
  | { op: 'forget'; key: number };

function tellWatchdog(message: WatchdogMessage): void {
  try {
    const dog = watchdog ?? startWatchdog();
    dog.stdin.write(`${JSON.stringify(message)}\n`);
  } catch {
    // The watchdog is a second line of defence; the in-process handlers still cover every exit but SIGKILL.
  }
}

function startWatchdog(): NonNullable<typeof watchdog> {
  const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const stdin = child.stdin;
  if (stdin === null) throw new Error('watchdog without stdin');
  stdin.on('error', () => undefined);
  child.on('error', () => undefined);
  // Neither the pipe nor the child may keep this process alive: the watchdog exists to outlive it.
  child.unref();
  (stdin as Writable & { unref?: () => void }).unref?.();
  watchdog = { child, stdin };
  return watchdog;
}

/**
 * The watchdog, run with `node -e` (plain CommonJS, no dependency, so it starts in ~40 ms). It ignores terminal
 * signals (a Ctrl-C reaches the parent, which cleans up itself) and acts only when its stdin reaches end of file,
 * which the kernel guarantees when the parent dies, however it dies.
 */
const WATCHDOG_SOURCE = String.raw`
'use strict';
const fs = require('fs');
const groups = new Map();
const dirs = new Map();
let buffered = '';
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  let newline;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    let m;
    try { m = JSON.parse(line); } catch { continue; }
    if (m.op === 'group') groups.set(m.key, m);
    else if (m.op === 'dir') dirs.set(m.key, m.path);
    else if (m.op === 'forget') { groups.delete(m.key); dirs.delete(m.key); }
  }
});
const kill = (pgid, signal) => { try { process.kill(-pgid, signal); return true; } catch { return false; } };
// A leader that exited is a zombie until init reaps it (some container inits never do): count zombies as dead.
const alive = (pid) => {
  try {
    const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch (error) {
    if (error.code === 'ENOENT') return false;
    try { process.kill(pid, 0); return true; } catch { return false; }
  }
};
const cleanup = () => {
  for (const g of groups.values()) { kill(g.pgid, g.signal); kill(g.pgid, 'SIGCONT'); }
  const deadline = Date.now() + ${emergencyWaitMs};
  const finish = () => {
    for (const g of groups.values()) kill(g.pgid, 'SIGKILL');
    for (const p of dirs.values()) { try { fs.rmSync(p, { recursive: true, force: true, maxRetries: 3 }); } catch {} }
    process.exit(0);
  };
  const poll = () => {
    const anyAlive = [...groups.values()].some((g) => alive(g.pgid));
    if (!anyAlive || Date.now() > deadline) finish(); else setTimeout(poll, 50);
  };
  poll();
};
process.stdin.on('end', cleanup);
process.stdin.on('error', cleanup);
`;
