/** Helpers shared by the gateway suites: tokens, a plain HTTP client that streams, and in-process gateways. */
import { generateKeyPairSync } from 'node:crypto';
import { request as httpRequest, Agent } from 'node:http';
import type { Readable } from 'node:stream';
import { type RunningApp, runApp } from '@concord/platform';
import { signJwt } from '../../apps/gateway/src/edge/jwt.js';
import { gatewayDefinition } from '../../apps/gateway/src/gateway.app.js';

export const JWT_SECRET = 'gateway-test-secret-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789';
/** The gateway's internal-token key pair (Ed25519): upstreams can verify what the gateway forwards. */
export const INTERNAL_KEYS = generateKeyPairSync('ed25519');
export const INTERNAL_TOKEN_PRIVATE_KEY = INTERNAL_KEYS.privateKey
  .export({ type: 'pkcs8', format: 'pem' })
  .toString();

export function token(subject: string, claims: Record<string, unknown> = {}): string {
  return signJwt(
    { sub: subject, exp: Math.floor(Date.now() / 1000) + 600, ...claims },
    { hs256Secret: JWT_SECRET },
  );
}

export function bearer(subject = 'alice', claims: Record<string, unknown> = {}): Record<string, string> {
  return { authorization: `Bearer ${token(subject, claims)}` };
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** One HTTP request with node:http (streams a Readable body; no buffering on the client side). */
export function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string | Readable,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sized =
      typeof body === 'string' || Buffer.isBuffer(body)
        ? { 'content-length': String(Buffer.byteLength(body)), ...headers }
        : headers;
    const req = httpRequest(new URL(path, base), { method, headers: sized, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const buffer = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: buffer,
          json: <T>() => JSON.parse(buffer.toString('utf8')) as T,
        });
      });
    });
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

export async function startGateway(env: Record<string, string>): Promise<RunningApp> {
  const port = 20_000 + Math.floor(Math.random() * 10_000);
  return runApp(gatewayDefinition({ handleSignals: false }), {
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    JWT_SECRET,
    INTERNAL_TOKEN_PRIVATE_KEY,
    ADMIN_TOKEN,
    SHUTDOWN_GRACE_MS: '10000',
    ...env,
  });
}
