import fs from 'node:fs';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { freePort, isPortOpen } from './ports.js';
import { ProcessGroup, ProcessStartError, startProcess } from './process.js';
import { isProcessAlive } from './registry.js';
import { waitFor } from './wait.js';

/** A tiny HTTP server: answers its pid, logs start and graceful stop. Plain CommonJS for `node -e`. */
const serverSource = String.raw`
const http = require('http');
const port = Number(process.env.PORT);
const server = http.createServer((req, res) => res.end(String(process.pid)));
server.listen(port, '127.0.0.1', () => console.log('listening on ' + port));
process.on('SIGTERM', () => {
  console.log('bye from ' + process.pid);
  server.close(() => process.exit(0));
  // The test's fetch keeps connections alive; a graceful stop here need not wait for them to idle out.
  server.closeAllConnections();
});
`;

async function get(url: string, timeoutMs = 1_000): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return response.text();
}

describe('process harness', () => {
  const group = new ProcessGroup();
  beforeEach(({ onTestFailed }) => group.printLogsOnFailure(onTestFailed));
  afterEach(() => group.stopAll());

  async function startServer(): Promise<{
    url: string;
    port: number;
    handle: Awaited<ReturnType<ProcessGroup['start']>>;
  }> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/`;
    const handle = await group.start({
      name: 'tiny-http',
      command: process.execPath,
      args: ['-e', serverSource],
      env: { PORT: String(port) },
      ready: { url, timeoutMs: 10_000 },
    });
    return { url, port, handle };
  }

  it('waits for readiness by URL, logs output to a file, and stops gracefully on SIGTERM', async () => {
    const { url, handle } = await startServer();
    expect(await get(url)).toBe(String(handle.pid));
    const exit = await handle.stop(5_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(fs.readFileSync(handle.logFile, 'utf8')).toMatch(/listening on \d+\nbye from \d+\n/);
  });

  it('freezes with SIGSTOP, thaws with SIGCONT', async () => {
    const { url, handle } = await startServer();
    handle.sigstop();
    await expect(get(url, 300)).rejects.toThrow();
    handle.sigcont();
    expect(await get(url)).toBe(String(handle.pid));
  });

  it('dies by SIGKILL, and restarts as a new process that is ready again', async () => {
    const { url, port, handle } = await startServer();
    const firstPid = handle.pid;
    handle.sigkill();
    expect(await handle.waitForExit(5_000)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(isProcessAlive(firstPid)).toBe(false);
    expect(await isPortOpen(port)).toBe(false);
    await handle.restart();
    expect(handle.pid).not.toBe(firstPid);
    expect(await get(url)).toBe(String(handle.pid));
    expect(handle.logs()).toContain('--- restart of tiny-http ---');
  });

  it('stops a process that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const handle = await group.start({
      name: 'stubborn',
      command: process.execPath,
      args: [
        '-e',
        "process.on('SIGTERM', () => console.log('ignored')); console.log('up'); setInterval(() => {}, 1e6)",
      ],
      ready: { logLine: /^up$/, timeoutMs: 10_000 },
    });
    const exit = await handle.stop(300);
    expect(exit.signal).toBe('SIGKILL');
    await waitFor(() => handle.logs().includes('ignored'), { timeoutMs: 1_000 });
  });

  it('fails readiness with the log tail when the process exits early, or is not ready in time', async () => {
    const crash = startProcess({
      name: 'crasher',
      command: process.execPath,
      args: ['-e', "console.error('config error: PORT is not a number'); process.exit(3)"],
      ready: { url: 'http://127.0.0.1:9/', timeoutMs: 10_000 },
    });
    await expect(crash).rejects.toThrow(ProcessStartError);
    await expect(crash).rejects.toThrow(/exited \(code 3[\s\S]*PORT is not a number/);

    const slow = startProcess({
      name: 'never-ready',
      command: process.execPath,
      args: ['-e', 'setInterval(() => {}, 1e6)'],
      ready: { logLine: /^ready$/, timeoutMs: 500 },
    });
    await expect(slow).rejects.toThrow(/never-ready was not ready within 500 ms\n--- last lines of /);
  });

  it('prints the logs of the processes a failing test started', async () => {
    const printed: string[] = [];
    const local = new ProcessGroup((text) => printed.push(text));
    let failureHandler: (() => void) | undefined;
    local.printLogsOnFailure((handler) => (failureHandler = handler));
    const handle = await local.start({
      name: 'chatty',
      command: process.execPath,
      args: ['-e', "console.log('something useful'); setInterval(() => {}, 1e6)"],
      ready: { logLine: /something useful/, timeoutMs: 10_000 },
    });
    await local.stopAll();
    expect(isProcessAlive(handle.pid)).toBe(false);
    expect(failureHandler).toBeDefined();
    failureHandler?.();
    expect(printed.join('')).toContain('===== chatty');
    expect(printed.join('')).toContain('something useful');
  });
});
