import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { isPortOpen } from './ports.js';
import { isProcessAlive } from './registry.js';
import { waitFor } from './wait.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = fileURLToPath(new URL('../../../test/infra/teardown-child.ts', import.meta.url));

interface Started {
  postgres: { port: number; pid: number; dir: string };
  nats: { port: number; pid: number; dir: string };
  sleeper: { pid: number };
  logDir: string;
}

interface ChildRun {
  started: Started;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  stderr: string;
}

/** Runs the fixture (node with tsx's loader: one process, so signals reach it directly), optionally signals it. */
function runFixture(mode: 'throw' | 'wait', signal?: NodeJS.Signals): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, mode], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let started: Started | undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const newline = stdout.indexOf('\n');
      if (started !== undefined || newline < 0) return;
      started = JSON.parse(stdout.slice(0, newline)) as Started;
      if (signal !== undefined) child.kill(signal);
    });
    child.once('error', reject);
    child.once('close', (code, exitSignal) => {
      clearTimeout(guard);
      if (started === undefined) reject(new Error(`fixture printed nothing; stderr:\n${stderr}`));
      else resolve({ started, exit: { code, signal: exitSignal }, stderr });
    });
  });
}

async function leftovers(started: Started): Promise<string[]> {
  const found: string[] = [];
  for (const [name, port] of [
    ['postgres', started.postgres.port],
    ['nats', started.nats.port],
  ] as const) {
    if (await isPortOpen(port)) found.push(`${name} port ${port} open`);
  }
  for (const [name, pid] of [
    ['postgres', started.postgres.pid],
    ['nats', started.nats.pid],
    ['sleeper', started.sleeper.pid],
  ] as const) {
    if (isProcessAlive(pid)) found.push(`${name} pid ${pid} alive`);
  }
  for (const dir of [started.postgres.dir, started.nats.dir, started.logDir]) {
    if (fs.existsSync(dir)) found.push(`${dir} exists`);
  }
  return found;
}

describe('teardown of everything a process started', () => {
  it('happens when the process dies of an uncaught error', async () => {
    const run = await runFixture('throw');
    expect(run.exit.code).toBe(1);
    expect(run.stderr).toContain('deliberate failure');
    // Synchronous teardown in the 'exit' handler: done by the time the process is gone, no polling needed.
    expect(await leftovers(run.started)).toEqual([]);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('happens when the process receives %s', async (signal) => {
    const run = await runFixture('wait', signal);
    expect(run.exit.signal).toBe(signal);
    expect(await leftovers(run.started)).toEqual([]);
  });

  it('happens, through the watchdog, when the process is SIGKILLed', async () => {
    const run = await runFixture('wait', 'SIGKILL');
    expect(run.exit.signal).toBe('SIGKILL');
    const remaining = await waitFor(
      async () => ((await leftovers(run.started)).length === 0 ? 'clean' : false),
      {
        timeoutMs: 15_000,
        intervalMs: 100,
        description: 'the watchdog to stop everything',
      },
    ).catch(async () => leftovers(run.started));
    expect(remaining).toBe('clean');
  });
});
