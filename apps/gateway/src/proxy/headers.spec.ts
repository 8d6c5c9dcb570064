import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, headerBytes, upstreamRequestHeaders } from './headers.js';

const context = {
  requestId: 'req-1',
  clientAddress: '10.0.0.9',
  protocol: 'http' as const,
  host: 'gw.example',
  subject: 'alice',
  subjectHeader: 'x-auth-subject',
  authorization: 'Bearer internal',
};

const pairs = <T>(flat: readonly T[]): [T, T][] =>
  Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i]!, flat[2 * i + 1]!]);

describe('upstreamRequestHeaders', () => {
  it('drops hop-by-hop headers, those Connection lists, Expect, and forged gateway headers', () => {
    const out = upstreamRequestHeaders(
      [
        'Host',
        'gw.example',
        'Connection',
        'keep-alive, x-secret-hop',
        'Keep-Alive',
        'timeout=5',
        'Transfer-Encoding',
        'chunked',
        'Upgrade',
        'websocket',
        'TE',
        'trailers',
        'Expect',
        '100-continue',
        'Proxy-Authorization',
        'Basic x',
        'X-Secret-Hop',
        'dropped',
        'X-Request-Id',
        'forged',
        'X-Auth-Subject',
        'mallory',
        'X-Upstream-Instance',
        'forged',
        'X-Forwarded-For',
        '1.2.3.4',
        'Forwarded',
        'for=1.2.3.4',
        'Authorization',
        'Bearer client-jwt',
        'X-Custom',
        'kept',
        'Accept',
        'application/json',
      ],
      context,
    );
    expect(pairs(out)).toEqual([
      ['x-custom', 'kept'],
      ['accept', 'application/json'],
      ['x-forwarded-for', '10.0.0.9'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'gw.example'],
      ['x-request-id', 'req-1'],
      ['x-auth-subject', 'alice'],
      ['authorization', 'Bearer internal'],
    ]);
  });

  it('replaces an incoming X-Forwarded-For instead of trusting it, and sends no Authorization on public routes', () => {
    const out = pairs(
      upstreamRequestHeaders(['x-forwarded-for', '1.2.3.4', 'authorization', 'Bearer client-jwt'], {
        ...context,
        subject: undefined,
        authorization: undefined,
      }),
    );
    expect(out.filter(([n]) => n === 'x-forwarded-for')).toEqual([['x-forwarded-for', '10.0.0.9']]);
    expect(out.some(([n]) => n === 'authorization' || n === 'x-auth-subject')).toBe(false);
  });
});

describe('clientResponseHeaders', () => {
  const raw = (...parts: string[]): Buffer[] => parts.map((p) => Buffer.from(p, 'latin1'));

  it('drops hop-by-hop headers, names the instance and sets the request id', () => {
    const head = clientResponseHeaders(
      raw(
        'Content-Type',
        'text/plain',
        'Keep-Alive',
        'timeout=5',
        'Connection',
        'close',
        'Transfer-Encoding',
        'chunked',
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'b=2',
        'X-Request-Id',
        'upstream-id',
        'X-Upstream-Instance',
        'spoofed',
      ),
      'orders-2',
      'req-1',
    );
    expect(pairs(head.headers)).toEqual([
      ['Content-Type', 'text/plain'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['x-upstream-instance', 'orders-2'],
      ['x-request-id', 'req-1'],
    ]);
    expect(head.contentLength).toBe(-1);
  });

  it('removes the headers a Connection header lists', () => {
    const head = clientResponseHeaders(
      raw('Connection', 'keep-alive, X-Secret', 'x-secret', '1', 'Content-Length', '12'),
      'a',
      'r',
    );
    expect(pairs(head.headers)).toEqual([
      ['Content-Length', '12'],
      ['x-upstream-instance', 'a'],
      ['x-request-id', 'r'],
    ]);
    expect(head.contentLength).toBe(12);
  });

  it('reports an unparsable Content-Length as absent', () => {
    for (const value of ['', 'abc', '-1', '1e3x']) {
      expect(clientResponseHeaders(raw('content-length', value), 'a', 'r').contentLength).toBe(-1);
    }
  });
});

describe('headerBytes', () => {
  it('counts names and values with separators', () => {
    expect(headerBytes(['host', 'a', 'x', 'yz'])).toBe(4 + 2 + 1 + 2 + 1 + 2 + 2 + 2);
  });
});
