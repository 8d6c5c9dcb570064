import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadStackConfig } from '../stack/config.js';
import { demoToken } from './jwt.js';
import type { Narrator } from './narrator.js';
import { isAlive, pidListeningOn, processImage, restartProcess } from './processes.js';

/** Where the running `npm run stack` is and the secrets it wrote under its data dir. */
export interface StackAccess {
  readonly root: string;
  readonly dataDir: string;
  readonly gatewayUrl: string;
  readonly coordinatorUrls: readonly string[];
  readonly coordinatorToken: string;
  /** The coordinator's admin token (the fault switch needs it). */
  readonly coordinatorAdminToken: string;
  readonly postgresPort: number;
  readonly adminToken: string;
  readonly jwtSecret: string;
  /** A gateway JWT for subject `demo`. */
  readonly userToken: string;
}

/** A demo run: the stack, the narration and a run id that keeps this run's keys, skus and customers apart. */
export interface DemoContext {
  readonly stack: StackAccess;
  readonly narrator: Narrator;
  readonly runId: string;
}

export class DemoSetupError extends Error {
  override readonly name = 'DemoSetupError';
}

/** What a demo needs of the running stack, from the same validated settings `npm start` used (ports, data dir). */
export function loadStackAccess(
  root: string,
  environment: Record<string, string | undefined>,
  nowMs: number,
): StackAccess {
  const config = loadStackConfig(environment);
  const dataDir = path.resolve(root, config.STACK_DATA_DIR);
  const secret = (file: string): string => {
    const full = path.join(dataDir, file);
    if (!existsSync(full)) {
      throw new DemoSetupError(
        `${full} is missing: start the stack first (npm run stack) and wait for its table`,
      );
    }
    return readFileSync(full, 'utf8').trim();
  };
  const jwtSecret = secret('gateway-jwt-secret');
  return {
    root,
    dataDir,
    gatewayUrl: `http://127.0.0.1:${config.GATEWAY_PORT}`,
    coordinatorUrls: config.COORDINATOR_PORTS.map((p) => `http://127.0.0.1:${p}`),
    postgresPort: config.POSTGRES_PORT,
    coordinatorToken: secret('coordinator-token'),
    coordinatorAdminToken: secret('coordinator-admin-token'),
    adminToken: secret('gateway-admin-token'),
    jwtSecret,
    userToken: demoToken('demo', jwtSecret, nowMs),
  };
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/** One HTTP call with a deadline; a transport failure or timeout is status 0 (the demos narrate it, not throw). */
export async function http(
  url: string,
  options: {
    method?: string;
    token?: string;
    body?: unknown;
    headers?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<HttpAnswer> {
  try {
    const response = await fetch(url, {
      method: options.method ?? 'GET',
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text.length > 0 ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, headers: response.headers, body };
  } catch (error) {
    return { status: 0, headers: new Headers(), body: (error as Error).message };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `intervalMs` until it returns a value or `timeoutMs` passes (then undefined). */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) return undefined;
    await sleep(intervalMs);
  }
}

/** What {@link killOnPort} learnt, to restart the process afterwards. */
export interface Killed {
  readonly name: string;
  readonly port: number;
  readonly image: ReturnType<typeof processImage>;
}

/** SIGKILLs the process listening on `port` (no shutdown handler runs) and waits until it is gone. */
export async function killOnPort(ctx: DemoContext, name: string, port: number): Promise<Killed> {
  const pid = pidListeningOn(port);
  if (pid === undefined)
    throw new DemoSetupError(`no process listens on port ${port} (${name}): is the stack whole?`);
  const image = processImage(pid);
  ctx.narrator.say(`SIGKILL ${name} (pid ${pid}, port ${port})`);
  process.kill(pid, 'SIGKILL');
  await pollUntil(async () => (isAlive(pid) ? undefined : true), 5_000, 50);
  return { name, port, image };
}

/**
 * Starts a killed process again with its own command line and environment (from /proc), tied to the stack so that
 * the stack's Ctrl-C still stops it, and waits for its readiness. Returns whether it became ready.
 */
export async function restartKilled(ctx: DemoContext, killed: Killed): Promise<boolean> {
  const logFile = path.join(ctx.stack.dataDir, 'logs', `${killed.name}.log`);
  const keeperPid = await restartProcess(killed.image, logFile);
  ctx.narrator.say(
    `restarting ${killed.name} with its own command line and environment (keeper pid ${keeperPid}, log ${path.relative(ctx.stack.root, logFile)})`,
  );
  const ready = await pollUntil(
    async () =>
      (await http(`http://127.0.0.1:${killed.port}/health/ready`, { timeoutMs: 1_000 })).status === 200
        ? true
        : undefined,
    60_000,
    500,
  );
  if (ready === true) {
    ctx.narrator.say(
      `${killed.name} is ready again (pid ${pidListeningOn(killed.port) ?? '?'}); the stack's Ctrl-C still stops it (its keeper watches the stack)`,
    );
    return true;
  }
  ctx.narrator.say(
    `${killed.name} did not become ready within 60 s: restart the stack (Ctrl-C, npm run stack)`,
  );
  return false;
}

/** Typed access to a JSON body without trusting it. */
export function field(value: unknown, ...keys: (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}
