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

/** The parts of an upstream answer's head the proxy acts on. */
export interface ClientResponseHead {
  /** Flat [name, value, ...] list for `res.writeHead` (names as the upstream spelled them, repeats kept). */
  readonly headers: string[];
  /** The upstream's Content-Length, or -1 when it sent none (or an unparsable one). */
  readonly contentLength: number;
}

/**
 * The upstream's response headers as sent to the client, from undici's raw [name, value, ...] list (Buffers,
 * as the upstream sent them): hop-by-hop ones and those a Connection header lists are removed, the upstream's
 * X-Request-Id is replaced by the gateway's. A flat list keeps repeated headers (Set-Cookie) as separate
 * lines, and `res.writeHead` takes it without building a header object.
 */
export function clientResponseHeaders(
  raw: readonly (Buffer | string)[],
  instanceId: string,
  requestId: string,
): ClientResponseHead {
  const out: string[] = [];
  let listed: Set<string> | undefined;
  let contentLength = -1;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (lower === 'connection') {
      // The common values list nothing else; anything more is parsed (rare).
      if (value !== 'keep-alive' && value !== 'close') listed = connectionTokens(value);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || lower === 'x-request-id' || lower === 'x-upstream-instance') continue;
    if (lower === 'content-length') {
      const length = Number(value);
      contentLength = Number.isSafeInteger(length) && length >= 0 && value !== '' ? length : -1;
    }
    out.push(name, value);
  }
  if (listed !== undefined) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (listed.has(out[i]!.toLowerCase())) out.splice(i, 2);
  }
  out.push('x-upstream-instance', instanceId, 'x-request-id', requestId);
  return { headers: out, contentLength };
}

/** Size of the request head as received (names, values and their separators), for the 431 limit. */
export function headerBytes(rawHeaders: readonly string[]): number {
  let total = 0;
  for (const part of rawHeaders) total += part.length + 2;
  return total;
}
