import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';

import { registerProcessGroup, registerStopper, registerTempDir, signalGroup } from './registry.js';
import { waitFor } from './wait.js';

/** How to tell that a started process is ready. Every variant has a deadline. */
export type Readiness =
  /** An HTTP GET on `url` answers 2xx. */
  | { url: string; timeoutMs: number; intervalMs?: number }
  /** A line of the process's stdout or stderr matches `logLine`. */
  | { logLine: RegExp; timeoutMs: number }
  /** `probe()` resolves to true (a throw counts as "not yet"). */
  | { probe: () => Promise<boolean>; timeoutMs: number; intervalMs?: number };

/** Options of {@link startProcess}. */
export interface ProcessOptions {
  /** Short name used in logs, errors and the default log file name. */
  name: string;
  command: string;
  args?: readonly string[];
  /** Variables added to (or, with value `undefined`, removed from) the inherited environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Start from an empty environment instead of this process's. Default false. */
  cleanEnv?: boolean;
  cwd?: string;
  /** Where stdout and stderr go (appended). Default: a file in a private temp dir removed when this process exits. */
  logFile?: string;
  ready?: Readiness;
  /** Run as another user (requires root). */
  user?: { uid: number; gid: number };
  /** Signal of an orderly `stop()`. Default SIGTERM. */
  stopSignal?: NodeJS.Signals;
  /**
   * Signal sent if this process exits (or dies of a signal or an error) without stopping the child; SIGKILL follows
   * if the child is still alive after a bounded wait (5 s for everything together). Default: the stop signal.
   */
  emergencySignal?: NodeJS.Signals;
  /** Called with every output line (e.g. to prefix and print it); stdout and stderr interleave in arrival order. */
  onLine?: (line: string) => void;
}

/** How a process ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child process started by {@link startProcess}. Signals go to its whole process group. */
export interface ProcessHandle {
  readonly name: string;
  /** Pid of the current incarnation (changes on {@link ProcessHandle.restart}). */
  readonly pid: number;
  readonly logFile: string;
  /** Exit of the current incarnation, or undefined while it runs. */
  readonly exit: ExitInfo | undefined;
  /** Sends `signal` to the process group (the process and anything it forked); a no-op once it has exited. */
  kill(signal: NodeJS.Signals): void;
  /** Crash it: no shutdown handler runs. */
  sigkill(): void;
  /** Freeze it (a hung process, a long GC pause): it keeps its sockets but answers nothing until {@link sigcont}. */
  sigstop(): void;
  sigcont(): void;
  /** Stops (gracefully, `graceMs`) if still running, starts again with the same options and waits for readiness. */
  restart(graceMs?: number): Promise<void>;
  /** Sends the stop signal (and SIGCONT, in case it is stopped), then SIGKILL after `graceMs` (default 10 s). */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** Resolves when the current incarnation exits; rejects after `timeoutMs` if given. */
  waitForExit(timeoutMs?: number): Promise<ExitInfo>;
  /** The whole log file (all incarnations). */
  logs(): string;
  /** The last `lines` lines of the log file. */
  logTail(lines?: number): string;
}

/** Raised when a process does not become ready in time or exits first; the message ends with its log tail. */
export class ProcessStartError extends Error {
  override readonly name = 'ProcessStartError';
}

const logTailLinesDefault = 40;
const stopGraceMsDefault = 10_000;
/** After the leader exits, how long to wait for its output pipes to drain (a grandchild may hold them open). */
const pipeDrainMsMax = 1_000;

let defaultLogDir: string | undefined;

/**
 * Starts `command` as a child process in its own process group, with its output appended to a log file, and waits
 * for readiness if `ready` is given. On failure the child is killed and the error carries the log tail.
 */
export async function startProcess(options: ProcessOptions): Promise<ProcessHandle> {
  const handle = new ManagedProcess(options, options.logFile ?? defaultLogFile(options.name));
  await handle.start();
  return handle;
}

class ManagedProcess implements ProcessHandle {
  private child: ChildProcess | undefined;
  private currentExit: ExitInfo | undefined;
  private exitPromise: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  private unregisterGroup: (() => void) | undefined;
  private unregisterStopper: (() => void) | undefined;
  private lineWaiters: Array<(line: string) => void> = [];

  constructor(
    private readonly options: ProcessOptions,
    readonly logFile: string,
  ) {}

  get name(): string {
    return this.options.name;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  get exit(): ExitInfo | undefined {
    return this.currentExit;
  }

  async start(): Promise<void> {
    fs.mkdirSync(path.dirname(this.logFile), { recursive: true });
    const log = { fd: fs.openSync(this.logFile, 'a'), open: true };
    const closeLog = (): void => {
      if (log.open) fs.closeSync(log.fd);
      log.open = false;
    };
    const child = spawn(this.options.command, [...(this.options.args ?? [])], {
      cwd: this.options.cwd,
      env: childEnvironment(this.options.env, this.options.cleanEnv ?? false),
      // Own process group: a terminal's Ctrl-C reaches only us (we decide the order of shutdown), and one kill(-pgid)
      // reaches the server together with anything it forked.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(this.options.user ? { uid: this.options.user.uid, gid: this.options.user.gid } : {}),
    });
    this.child = child;
    this.currentExit = undefined;
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const closed = once(child, 'close').catch(() => undefined);
    this.exitPromise = exited.then(async ([code, signal]) => {
      await withTimeout(closed, pipeDrainMsMax);
      closeLog();
      this.currentExit = { code, signal };
      this.unregisterGroup?.();
      return this.currentExit;
    });
    this.exitPromise.catch(() => undefined);
    pipeLines(child, (line) => {
      // A grandchild may still write after the leader exited and the descriptor was closed (it could even have been
      // reused for another file by then): append by name instead.
      if (log.open) fs.writeSync(log.fd, `${line}\n`);
      else fs.appendFileSync(this.logFile, `${line}\n`);
      this.options.onLine?.(line);
      for (const waiter of this.lineWaiters) waiter(line);
    });
    try {
      await spawned;
    } catch (error: unknown) {
      closeLog();
      throw new ProcessStartError(`${this.name}: cannot start ${this.options.command}`, { cause: error });
    }
    if (child.pid === undefined) throw new ProcessStartError(`${this.name}: spawned without a pid`);
    this.unregisterGroup = registerProcessGroup(
      child.pid,
      this.options.emergencySignal ?? this.options.stopSignal ?? 'SIGTERM',
    );
    this.unregisterStopper ??= registerStopper(this.name, async () => {
      await this.stop();
    });
    if (this.options.ready) await this.awaitReady(this.options.ready);
  }

  private async awaitReady(ready: Readiness): Promise<void> {
    const exitedEarly = this.exitPromise.then((exit) => {
      throw new ProcessStartError(
        `${this.name} exited (code ${String(exit.code)}, signal ${String(exit.signal)}) before it was ready\n` +
          `--- last lines of ${this.logFile} ---\n${this.logTail()}`,
      );
    });
    exitedEarly.catch(() => undefined);
    try {
      await Promise.race([exitedEarly, this.readiness(ready)]);
    } catch (error: unknown) {
      await this.stop(0);
      if (error instanceof ProcessStartError) throw error;
      throw new ProcessStartError(
        `${this.name} was not ready within ${ready.timeoutMs} ms\n--- last lines of ${this.logFile} ---\n` +
          this.logTail(),
        { cause: error },
      );
    }
  }

  private readiness(ready: Readiness): Promise<unknown> {
    if ('logLine' in ready) return this.waitForLine(ready.logLine, ready.timeoutMs);
    const probe = 'url' in ready ? () => httpOk(ready.url) : ready.probe;
    const description = 'url' in ready ? `${this.name} to answer ${ready.url}` : `${this.name} to be ready`;
    return waitFor(probe, { timeoutMs: ready.timeoutMs, intervalMs: ready.intervalMs ?? 100, description });
  }

  private waitForLine(pattern: RegExp, timeoutMs: number): Promise<void> {
    // Output before this call is in the log file already (written synchronously as it arrives).
    if (
      this.logs()
        .split('\n')
        .some((line) => pattern.test(line))
    )
      return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        remove();
        reject(new Error(`no line matching ${String(pattern)}`));
      }, timeoutMs);
      const waiter = (line: string): void => {
        if (!pattern.test(line)) return;
        remove();
        resolve();
      };
      const remove = (): void => {
        clearTimeout(timer);
        this.lineWaiters = this.lineWaiters.filter((w) => w !== waiter);
      };
      this.lineWaiters.push(waiter);
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child?.pid === undefined || this.currentExit) return;
    signalGroup(this.child.pid, signal);
  }

  sigkill(): void {
    this.kill('SIGKILL');
  }

  sigstop(): void {
    this.kill('SIGSTOP');
  }

  sigcont(): void {
    this.kill('SIGCONT');
  }

  async restart(graceMs = stopGraceMsDefault): Promise<void> {
    await this.stopCurrent(graceMs);
    fs.appendFileSync(this.logFile, `--- restart of ${this.name} ---\n`);
    await this.start();
  }

  async stop(graceMs = stopGraceMsDefault): Promise<ExitInfo> {
    const exit = await this.stopCurrent(graceMs);
    this.unregisterStopper?.();
    this.unregisterStopper = undefined;
    return exit;
  }

  private async stopCurrent(graceMs: number): Promise<ExitInfo> {
    const pid = this.child?.pid;
    if (pid === undefined) return { code: null, signal: null };
    if (!this.currentExit) {
      this.kill(this.options.stopSignal ?? 'SIGTERM');
      this.kill('SIGCONT');
      const exit = await withTimeout(this.exitPromise, graceMs);
      if (!exit) this.kill('SIGKILL');
    }
    const exit = await this.exitPromise;
    // Leftovers of the group (a shell's children) die with it.
    signalGroup(pid, 'SIGKILL');
    return exit;
  }

  async waitForExit(timeoutMs?: number): Promise<ExitInfo> {
    if (timeoutMs === undefined) return this.exitPromise;
    const exit = await withTimeout(this.exitPromise, timeoutMs);
    if (!exit) throw new Error(`${this.name} (pid ${this.pid}) did not exit within ${timeoutMs} ms`);
    return exit;
  }

  logs(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  logTail(lines = logTailLinesDefault): string {
    return tailLines(this.logs(), lines);
  }
}

/**
 * Resolves with `promise`'s value, or undefined after `timeoutMs`. Unlike racing a plain delay, the timer is cleared
 * when `promise` settles first, so a pending grace period never keeps the process alive.
 */
async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The last `count` lines of `text` (without a trailing empty line). */
export function tailLines(text: string, count: number): string {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  return lines.slice(Math.max(0, lines.length - count)).join('\n');
}

/**
 * The environment of a child: ours plus `extra`. Passing our environment through is the one place this library reads
 * `process.env`; it interprets none of it.
 */
function childEnvironment(
  extra: Readonly<Record<string, string | undefined>> | undefined,
  clean: boolean,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = clean ? {} : { ...process.env };
  for (const [key, value] of Object.entries(extra ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

function pipeLines(child: ChildProcess, onLine: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) onLine(line);
    });
    stream.on('end', () => {
      if (partial.length > 0) onLine(partial);
      partial = '';
    });
  }
}

async function httpOk(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.body?.cancel();
  return response.ok;
}

let logFileCounter = 0;

function defaultLogFile(name: string): string {
  if (defaultLogDir === undefined) {
    defaultLogDir = fs.mkdtempSync(path.join(os.tmpdir(), 'concord-logs-'));
    registerTempDir(defaultLogDir);
  }
  logFileCounter += 1;
  const safeName = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return path.join(defaultLogDir, `${safeName}-${logFileCounter}.log`);
}

/**
 * The processes one test (or one stack) started: stops them together and prints their logs when a test fails.
 *
 * ```ts
 * const group = new ProcessGroup();
 * beforeEach(({ onTestFailed }) => group.printLogsOnFailure(onTestFailed));
 * afterEach(() => group.stopAll());
 * it('...', async () => { const app = await group.start({ name: 'orders', command: 'node', args: [...] }); });
 * ```
 */
export class ProcessGroup {
  /** Every process this group ever started, in order; `stopAll()` does not forget them, so logs stay printable. */
  private readonly history: ProcessHandle[] = [];
  private readonly running = new Set<ProcessHandle>();

  constructor(private readonly write: (text: string) => void = (text) => process.stderr.write(text)) {}

  /** {@link startProcess}, remembering the handle (also when readiness fails, so its log is printed). */
  async start(options: ProcessOptions): Promise<ProcessHandle> {
    const handle = new ManagedProcess(options, options.logFile ?? defaultLogFile(options.name));
    this.add(handle);
    await handle.start();
    return handle;
  }

  /** Adopts a handle started elsewhere (for example the process inside a postgres or NATS handle). */
  add(handle: ProcessHandle): ProcessHandle {
    this.history.push(handle);
    this.running.add(handle);
    return handle;
  }

  /** Members not yet stopped through {@link ProcessGroup.stopAll}. */
  get processes(): readonly ProcessHandle[] {
    return [...this.running];
  }

  /**
   * Registers with a test framework's failure hook (vitest's `onTestFailed`, from the test context in `beforeEach`)
   * a printout of the logs of every process started from now on. Logs survive `stopAll()`, so the hook may run after
   * `afterEach` (vitest runs it after).
   */
  printLogsOnFailure(onTestFailed: (handler: () => void) => void): void {
    const from = this.history.length;
    onTestFailed(() => this.printLogs(this.history.slice(from)));
  }

  /** Writes each process's log tail (default 200 lines) under a header naming it and its log file. */
  printLogs(members: readonly ProcessHandle[] = this.history, lines = 200): void {
    for (const member of members) {
      this.write(
        `\n===== ${member.name} (pid ${member.pid}) ${member.logFile} =====\n${member.logTail(lines)}\n`,
      );
    }
  }

  /** Stops every running member, newest first (dependents before what they depend on). */
  async stopAll(graceMs = stopGraceMsDefault): Promise<void> {
    const members = [...this.running].reverse();
    this.running.clear();
    const errors: unknown[] = [];
    for (const member of members) {
      try {
        await member.stop(graceMs);
      } catch (error: unknown) {
        errors.push(error);
      }
    }
    if (errors.length > 0)
      throw new AggregateError(errors, 'ProcessGroup.stopAll: some processes failed to stop');
  }
}
