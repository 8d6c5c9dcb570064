/**
 * The plain Node recipe npm run bench:gateway compares against: node:http, the http-proxy package and the
 * hashring package keyed by X-Hash-Key, keep-alive agent, nothing else (no auth, no limits, no metrics).
 *   node --import tsx http-proxy-recipe.ts <port> <upstreamPort>...
 */
import { Agent, createServer } from 'node:http';
import HashRing from 'hashring';
import httpProxy from 'http-proxy';

const [port, ...upstreamPorts] = process.argv.slice(2).map(Number);
if (!port || upstreamPorts.length === 0) {
  process.stderr.write('usage: http-proxy-recipe.ts <port> <upstreamPort>...\n');
  process.exit(2);
}
const ring = new HashRing(upstreamPorts.map((p) => `127.0.0.1:${p}`));
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ agent });
proxy.on('error', (_error, _request, response) => {
  if ('writeHead' in response && !response.headersSent) response.writeHead(502);
  response.end();
});
createServer((request, response) => {
  const url = request.url ?? '/';
  if (!url.startsWith('/api/orders/')) {
    response.writeHead(404).end();
    return;
  }
  request.url = url.slice('/api/orders'.length);
  const key = request.headers['x-hash-key'];
  const target = ring.get(typeof key === 'string' ? key : (request.socket.remoteAddress ?? ''));
  proxy.web(request, response, { target: `http://${target}` });
}).listen(port, '127.0.0.1');
