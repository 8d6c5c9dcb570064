/**
 * Lock safety with fencing tokens. The holder (a real process) is paused with SIGSTOP past its lease; another
 * client gets the lock with a larger fencing token; the resource, which remembers the largest token it has seen,
 * refuses the old holder's writes when it wakes (SIGCONT). Without the token check, those writes would land.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ProcessGroup, waitFor } from '@concord/infra';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendCluster, startBackend } from './backends.js';
import { ROOT } from './cluster.js';

const group = new ProcessGroup();
let resource: Server | undefined;
let cluster: BackendCluster | undefined;

beforeEach(({ onTestFailed }) => group.printLogsOnFailure(onTestFailed));
afterAll(async () => {
  await cluster?.stop();
  await group.stopAll();
});

interface Write {
  writer: string;
  token: number;
  accepted: boolean;
}

/** A storage service that checks fencing tokens, as Chubby's sequencers and Kleppmann's fencing prescribe. */
async function fencedResource(): Promise<{ url: string; writes: Write[] }> {
  const writes: Write[] = [];
  let largest = 0;
  resource?.close();
  resource = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const { writer, token } = JSON.parse(body) as { writer: string; token: number };
      const accepted = token >= largest;
      if (accepted) largest = token;
      writes.push({ writer, token, accepted });
      res.writeHead(accepted ? 200 : 409).end();
    });
  });
  await new Promise<void>((resolve) => resource?.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(resource.address() as AddressInfo).port}/write`, writes };
}

describe.each(BACKENDS)('locks with fencing tokens (%s)', (backend) => {
  it('fences a holder that was paused past its lease', async () => {
    await cluster?.stop();
    cluster = await startBackend(backend, group);
    const { url, writes } = await fencedResource();
    const ttlSeconds = 2;
    const holder = await group.start({
      name: 'lock-holder',
      command: process.execPath,
      args: [
        '--import',
        'tsx',
        path.join(ROOT, 'test/coordinator/fixtures/lock-holder.ts'),
        ...cluster.fixtureArgs,
        'ledger',
        String(ttlSeconds),
        url,
      ],
      cwd: ROOT,
      ready: { logLine: /^write 200$/m, timeoutMs: 30_000 },
    });
    const oldToken = Number(/token (\d+)/.exec(holder.logs())?.[1]);
    expect(oldToken).toBeGreaterThan(0);

    holder.sigstop();
    const pausedAt = performance.now();
    const client = cluster.client();
    const lease = await client.grantLease(30);
    const acquired = await client.lock('ledger', lease.id, 20_000);
    // The lock only changed hands once the paused holder's lease expired.
    expect(performance.now() - pausedAt).toBeGreaterThanOrEqual(ttlSeconds * 1000 - 200);
    expect(acquired.fencingToken).toBeGreaterThan(oldToken);
    const newWrite = await fetch(url, {
      method: 'POST',
      body: JSON.stringify({ writer: 'new', token: acquired.fencingToken }),
    });
    expect(newWrite.status).toBe(200);

    const before = writes.length;
    holder.sigcont();
    await waitFor(() => writes.slice(before).some((w) => w.writer === 'holder'), { timeoutMs: 10_000 });
    const afterWake = writes.slice(before).filter((w) => w.writer === 'holder');
    expect(afterWake.length).toBeGreaterThan(0);
    expect(afterWake.every((w) => !w.accepted && w.token === oldToken)).toBe(true);
    // Once the new holder wrote, no write with the old token was ever accepted.
    const firstNew = writes.findIndex((w) => w.writer === 'new');
    expect(writes.slice(firstNew).filter((w) => w.token === oldToken && w.accepted)).toEqual([]);
    await client.unlock('ledger', acquired.key);
    client.close();
    await holder.stop();
    resource?.close();
  });
});
