import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import { findExecutable } from './executables.js';
import { freePort } from './ports.js';
import { ProcessStartError, startProcess, type ProcessHandle } from './process.js';
import { registerStopper, registerTempDir } from './registry.js';

/** Options of {@link startNats}. */
export interface NatsOptions {
  /** Client port on 127.0.0.1. Default: a free port (retried if another process takes it first). */
  port?: number;
  /** JetStream store directory. Given: kept (state survives restarts). Omitted: a temp dir, deleted by `stop()`. */
  storeDir?: string;
  /** Keep a temp store dir after `stop()`. */
  keep?: boolean;
  /** The `nats-server` executable. Default: found on PATH, then /usr/sbin, /usr/local/bin. */
  binary?: string;
  /** Readiness deadline. Default 20 s. */
  startTimeoutMs?: number;
  /** Every server log line. */
  onLine?: (line: string) => void;
  /**
   * Users with passwords and subject permissions. Given: anonymous connections are refused and each user may only
   * publish and subscribe where allowed (and answer requests it received). Omitted: anyone may connect.
   */
  users?: readonly NatsUserConfig[];
}

/** One nats-server user: `allow` lists of subjects (wildcards allowed) for publish and subscribe. */
export interface NatsUserConfig {
  readonly user: string;
  /**
   * The password, or the name of an environment variable nats-server reads it from when it loads the file (written
   * `$NAME`), so that a configuration file checked into a repository holds no secret (docker/nats/).
   */
  readonly password: string | { readonly env: string };
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** The `authorization` block of a nats-server configuration file for `users`. */
export function natsAuthorizationConfig(users: readonly NatsUserConfig[]): string {
  // Strings are written as JSON strings, which nats-server's configuration format reads as quoted strings (a
  // quoted "$JS.API..." is a subject, not a variable reference).
  const list = (subjects: readonly string[]) => `[${subjects.map((s) => JSON.stringify(s)).join(', ')}]`;
  const password = (p: NatsUserConfig['password']): string => {
    if (typeof p === 'string') return JSON.stringify(p);
    if (!/^[A-Z_][A-Z0-9_]*$/.test(p.env)) throw new Error(`not an environment variable name: ${p.env}`);
    return `$${p.env}`;
  };
  const entries = users.map(
    (u) =>
      `    { user: ${JSON.stringify(u.user)}, password: ${password(u.password)}, permissions: {\n` +
      `        publish: { allow: ${list(u.publish)} },\n` +
      `        subscribe: { allow: ${list(u.subscribe)} },\n` +
      `        allow_responses: true\n    } }`,
  );
  return `authorization {\n  users = [\n${entries.join(',\n')}\n  ]\n}\n`;
}

/** A running private NATS server with JetStream. */
export interface NatsHandle {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The server process: for fault tests (sigstop, sigkill) and its log. */
  readonly process: ProcessHandle;
  /** Stops the server (gracefully, `graceMs`, default 10 s) and starts it again on the same port and store. */
  restart(graceMs?: number): Promise<void>;
  /** Stops the server and removes a temp store dir. */
  stop(): Promise<void>;
}

const startTimeoutMsDefault = 20_000;
const portAttemptsMax = 3;
const fallbackLocations = ['/usr/sbin/nats-server', '/usr/local/bin/nats-server', '/usr/bin/nats-server'];

/** Raised when `nats-server` is not installed; its message says how to install it. */
export class NatsServerMissingError extends Error {
  override readonly name = 'NatsServerMissingError';
}

/**
 * Starts `nats-server -js -p <port> -a 127.0.0.1 -sd <storeDir>` and waits until it greets a client (the INFO line a
 * NATS server sends on connect). Registered for teardown on exit or signal, see {@link stopAll}.
 */
export async function startNats(options: NatsOptions = {}): Promise<NatsHandle> {
  const binary = options.binary ?? findNatsServer();
  const temporary = options.storeDir === undefined;
  const storeDir = path.resolve(options.storeDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'concord-nats-')));
  const removeOnStop = temporary && options.keep !== true;
  const unregisterDir = removeOnStop ? registerTempDir(storeDir) : () => undefined;
  fs.mkdirSync(storeDir, { recursive: true });
  const timeoutMs = options.startTimeoutMs ?? startTimeoutMsDefault;
  try {
    for (let attempt = 1; ; attempt += 1) {
      const port = options.port ?? (await freePort());
      const configArgs: string[] = [];
      if (options.users !== undefined) {
        const configFile = path.join(storeDir, 'nats-server.conf');
        fs.writeFileSync(configFile, natsAuthorizationConfig(options.users), { mode: 0o600 });
        configArgs.push('-c', configFile);
      }
      try {
        const server = await startProcess({
          name: `nats:${port}`,
          command: binary,
          args: [...configArgs, '-js', '-p', String(port), '-a', '127.0.0.1', '-sd', storeDir],
          ...(options.onLine ? { onLine: options.onLine } : {}),
          ready: { probe: () => natsGreets(port), timeoutMs, intervalMs: 50 },
        });
        return new NatsServer(port, storeDir, server, removeOnStop, unregisterDir);
      } catch (error: unknown) {
        const portTaken = error instanceof ProcessStartError && /address already in use/i.test(error.message);
        if (!portTaken || options.port !== undefined || attempt >= portAttemptsMax) throw error;
      }
    }
  } catch (error: unknown) {
    if (removeOnStop) {
      fs.rmSync(storeDir, { recursive: true, force: true });
      unregisterDir();
    }
    throw error;
  }
}

/**
 * Finds `nats-server` on PATH or in the usual system locations, or throws {@link NatsServerMissingError}.
 * `searchDirs` replaces PATH (tests use it to simulate a machine without the binary).
 */
export function findNatsServer(
  searchDirs?: readonly string[],
  fallbacks: readonly string[] = fallbackLocations,
): string {
  const found = findExecutable('nats-server', searchDirs, fallbacks);
  if (found !== undefined) return found;
  throw new NatsServerMissingError(
    'nats-server not found on PATH or in /usr/sbin, /usr/local/bin. Install it: `apt-get install nats-server` ' +
      '(Debian/Ubuntu), `brew install nats-server` (macOS), or download a release from ' +
      'https://github.com/nats-io/nats-server/releases and put `nats-server` on PATH.',
  );
}

/** True when a NATS server on `port` sends its `INFO {...}` greeting, i.e. it accepts clients. */
export function natsGreets(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let received = '';
    const finish = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      if (received.includes('\n')) finish(received.startsWith('INFO '));
    });
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
  });
}

class NatsServer implements NatsHandle {
  readonly url: string;
  private stopped: Promise<void> | undefined;
  private readonly unregisterStopper: () => void;

  constructor(
    readonly port: number,
    readonly storeDir: string,
    readonly process: ProcessHandle,
    private readonly removeOnStop: boolean,
    private readonly unregisterDir: () => void,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
    this.unregisterStopper = registerStopper(`nats:${port}`, () => this.stop());
  }

  async restart(graceMs?: number): Promise<void> {
    await this.process.restart(graceMs);
  }

  stop(): Promise<void> {
    this.stopped ??= this.stopOnce();
    return this.stopped;
  }

  private async stopOnce(): Promise<void> {
    this.unregisterStopper();
    await this.process.stop();
    if (this.removeOnStop) fs.rmSync(this.storeDir, { recursive: true, force: true, maxRetries: 3 });
    this.unregisterDir();
  }
}
