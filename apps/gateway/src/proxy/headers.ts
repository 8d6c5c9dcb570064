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

/**
 * Request headers a client must not be able to set: the gateway sets them itself (X-Forwarded-* are replaced,
 * never trusted: the gateway is the edge), or they concern only the client's connection to the gateway
 * (Expect: Node already answered 100-continue; undici refuses to send it, so forwarding it failed every try).
 * Authorization is replaced by the internal token (or dropped on public routes).
 */
const GATEWAY_OWNED = new Set([
  'host',
  'authorization',
  'expect',
  'x-request-id',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'forwarded',
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
  /** "Bearer <internal token>" for authenticated routes. */
  readonly authorization: string | undefined;
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

/**
 * The headers sent upstream as a flat [name, value, ...] list (what undici takes without copying): the
 * client's raw headers minus hop-by-hop and gateway-owned ones, plus X-Forwarded-*, the request id, the
 * subject and the internal token.
 */
export function upstreamRequestHeaders(rawHeaders: readonly string[], context: ForwardContext): string[] {
  let listed: Set<string> | undefined;
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name === 'connection') {
      listed = connectionTokens(rawHeaders[i + 1]);
      continue;
    }
    if (HOP_BY_HOP.has(name) || GATEWAY_OWNED.has(name) || name === context.subjectHeader) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  if (listed !== undefined) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (listed.has(out[i]!)) out.splice(i, 2);
  }
  out.push('x-forwarded-for', context.clientAddress, 'x-forwarded-proto', context.protocol);
  if (context.host !== undefined) out.push('x-forwarded-host', context.host);
  out.push('x-request-id', context.requestId);
  if (context.subject !== undefined) out.push(context.subjectHeader, context.subject);
  if (context.authorization !== undefined) out.push('authorization', context.authorization);
  return out;
}

/** The upstream's response headers as sent to the client (flat list): hop-by-hop ones removed. */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
  instanceId: string,
  requestId: string,
): (string | string[])[] {
  const listed = connectionTokens(upstream.connection);
  // Repeated headers (Set-Cookie) stay one name with an array value: Node sets, not appends, each pair.
  const out: (string | string[])[] = [];
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name) || listed?.has(name) || name === 'x-request-id') continue;
    out.push(name, value);
  }
  out.push('x-upstream-instance', instanceId, 'x-request-id', requestId);
  return out;
}

/** Size of the request head as received (names, values and their separators), for the 431 limit. */
export function headerBytes(rawHeaders: readonly string[]): number {
  let total = 0;
  for (const part of rawHeaders) total += part.length + 2;
  return total;
}
