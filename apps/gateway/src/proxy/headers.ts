import type { IncomingHttpHeaders } from 'node:http';

/** RFC 9110 section 7.6.1: meaningful for one connection only, never forwarded. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Headers a client must not be able to forge: the gateway sets them itself. */
const GATEWAY_OWNED = new Set([
  'host',
  'x-request-id',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-upstream-instance',
]);

export interface ForwardContext {
  readonly requestId: string;
  readonly clientAddress: string;
  readonly protocol: 'http' | 'https';
  /** Host the client asked for (its Host header). */
  readonly host: string | undefined;
  /** Verified token subject, for authenticated routes. */
  readonly subject: string | undefined;
  /** Header carrying the subject upstream (lower case). */
  readonly subjectHeader: string;
  /** When set, replaces the client's Authorization upstream. */
  readonly upstreamAuthorization: string | undefined;
}

/** Names listed in a Connection header (also hop-by-hop, RFC 9110 section 7.6.1). */
function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  const tokens = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const token = part.trim().toLowerCase();
    if (token !== '') tokens.add(token);
  }
  return tokens;
}

/** The headers sent upstream: the client's, minus hop-by-hop and gateway-owned ones, plus X-Forwarded-*. */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  context: ForwardContext,
): Record<string, string | string[]> {
  const listed = connectionTokens(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || GATEWAY_OWNED.has(name) || listed?.has(name)) continue;
    if (name === context.subjectHeader) continue;
    out[name] = value;
  }
  const priorFor = incoming['x-forwarded-for'];
  const prior = Array.isArray(priorFor) ? priorFor.join(', ') : priorFor;
  out['x-forwarded-for'] = prior ? `${prior}, ${context.clientAddress}` : context.clientAddress;
  out['x-forwarded-proto'] = context.protocol;
  if (context.host !== undefined) out['x-forwarded-host'] = context.host;
  out['x-request-id'] = context.requestId;
  if (context.subject !== undefined) out[context.subjectHeader] = context.subject;
  if (context.upstreamAuthorization !== undefined) out.authorization = context.upstreamAuthorization;
  return out;
}

/** The upstream's response headers as sent to the client: hop-by-hop ones removed. */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  instanceId: string,
): Record<string, string | string[]> {
  const listed = connectionTokens(upstream.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined) continue;
    // The gateway's own request id header is already on the reply.
    if (HOP_BY_HOP.has(name) || listed?.has(name) || name === 'x-request-id') continue;
    out[name] = value;
  }
  out['x-upstream-instance'] = instanceId;
  return out;
}

/** Size of the request head as received (names, values and their separators), for the 431 limit. */
export function headerBytes(rawHeaders: readonly string[]): number {
  let total = 0;
  for (const part of rawHeaders) total += part.length + 2;
  return total;
}
