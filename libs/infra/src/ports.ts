import net from 'node:net';

/**
 * Ports handed out recently by this process. The kernel may hand the same ephemeral port to two `listen(0)` calls
 * made before either caller binds it; remembering them avoids giving one port to two servers we start ourselves.
 */
const recentlyHanded = new Set<number>();
const recentlyHandedMax = 1024;
const attemptsMax = 20;

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago.
 *
 * The port is released before returning, so another process may still take it; callers that start a server on it
 * should retry with a new port when the bind fails (startPostgres and startNats do).
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < attemptsMax; attempt += 1) {
    const port = await ephemeralPort();
    if (recentlyHanded.has(port)) continue;
    if (recentlyHanded.size >= recentlyHandedMax) recentlyHanded.clear();
    recentlyHanded.add(port);
    return port;
  }
  throw new Error(`freePort: no new free port after ${attemptsMax} attempts`);
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('freePort: no port assigned'))));
    });
  });
}

/** True when something accepts TCP connections on `host:port` (one attempt, bounded by `timeoutMs`). */
export function isPortOpen(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const finish = (open: boolean): void => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
