import net from 'node:net';

import { describe, expect, it } from 'vitest';

import { freePort, isPortOpen } from './ports.js';
import { findNatsServer, NatsServerMissingError } from './nats.js';

describe('freePort', () => {
  it('hands out distinct ports that can be bound, and isPortOpen sees the listener', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    expect(new Set(ports).size).toBe(3);
    const port = ports[0] ?? 0;
    expect(await isPortOpen(port)).toBe(false);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      expect(await isPortOpen(port)).toBe(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('findNatsServer', () => {
  it('says how to install nats-server when it is missing', () => {
    const attempt = (): string => findNatsServer(['/nonexistent'], []);
    expect(attempt).toThrow(NatsServerMissingError);
    expect(attempt).toThrow(/apt-get install nats-server/);
  });
});
