/**
 * The floor for a Node proxy on this machine (`npm run bench:gateway -- --proxies node-floor,...`): node:http,
 * one undici Pool per upstream driven by `dispatch`, the same consistent-hash ring as the gateway
 * (@concord/hashring, keyed by X-Hash-Key), small answers buffered and written with their headers in one
 * write. Nothing else: no auth, limits, breakers, retries, metrics, logging, header filtering. Whatever the
 * gateway costs above this is the gateway's own. Head and body go out as one latin1 chunk (as the
 * gateway does). BARE_WORKERS=N (default 1) runs N node:cluster workers on the one port, to see what a second
 * thread buys on this machine.
 *   node --import tsx bare-proxy.ts <port> <upstreamPort>...
 */
import cluster from 'node:cluster';
import { createServer, type ServerResponse } from 'node:http';
import { createBalancer, hashKey } from '@concord/hashring';
import { type Dispatcher, Pool } from 'undici';

const [port, ...upstreamPorts] = process.argv.slice(2).map(Number);
if (!port || upstreamPorts.length === 0) {
  process.stderr.write('usage: bare-proxy.ts <port> <upstreamPort>...\n');
  process.exit(2);
}
const ring = createBalancer({ algorithm: 'ring' });
const pools = new Map<string, Pool>();
for (const upstreamPort of upstreamPorts) {
  const id = String(upstreamPort);
  ring.add(id, 1);
  pools.set(id, new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 256, pipelining: 1 }));
}

/** undici's raw-header handler API (no wrapper, no header object): the cheapest way to read an answer. */
class Forward implements Dispatcher.DispatchHandler {
  private status = 0;
  private headers: string[] = [];
  private chunks: Buffer[] = [];
  constructor(private readonly res: ServerResponse) {}
  onConnect(): void {}
  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.status = statusCode;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1');
      const lower = name.toLowerCase();
      if (lower !== 'connection' && lower !== 'keep-alive')
        this.headers.push(name, rawHeaders[i + 1]!.toString('latin1'));
    }
    return true;
  }
  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }
  onComplete(): void {
    this.res.writeHead(this.status, this.headers);
    let text = '';
    for (const chunk of this.chunks) text += chunk.toString('latin1');
    this.res.end(text, 'latin1');
  }
  onError(): void {
    if (!this.res.headersSent) this.res.writeHead(502);
    this.res.end();
  }
}

const workers = Number(process.env.BARE_WORKERS ?? '1');
if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  process.on('SIGTERM', () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  serve();
}

function serve(): void {
  createServer((req, res) => {
    const url = req.url ?? '/';
    if (!url.startsWith('/api/orders/')) {
      res.writeHead(404).end();
      return;
    }
    const key = req.headers['x-hash-key'];
    const id = ring.lookupHash(hashKey(typeof key === 'string' ? key : ''))!;
    const headers: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length !== 4 || name.toLowerCase() !== 'host') headers.push(name, raw[i + 1]!);
    }
    pools
      .get(id)!
      .dispatch(
        { path: url.slice('/api/orders'.length), method: req.method!, headers, body: null },
        new Forward(res),
      );
  }).listen(port, '127.0.0.1');
}
// Exit on SIGTERM so that node --cpu-prof writes its profile.
process.on('SIGTERM', () => process.exit(0));
