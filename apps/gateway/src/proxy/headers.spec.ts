import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, headerBytes, upstreamRequestHeaders } from './headers.js';

const context = {
  requestId: 'req-1',
  clientAddress: '10.0.0.9',
  protocol: 'http' as const,
  host: 'gw.example',
  subject: 'alice',
  subjectHeader: 'x-auth-subject',
  upstreamAuthorization: undefined,
};

describe('upstreamRequestHeaders', () => {
  it('drops hop-by-hop headers, those the Connection header lists, and forged gateway headers', () => {
    const out = upstreamRequestHeaders(
      {
        host: 'gw.example',
        connection: 'keep-alive, x-secret-hop',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        upgrade: 'websocket',
        te: 'trailers',
        'proxy-authorization': 'Basic x',
        'x-secret-hop': 'dropped',
        'x-request-id': 'forged',
        'x-auth-subject': 'mallory',
        'x-upstream-instance': 'forged',
        'x-custom': 'kept',
        accept: 'application/json',
      },
      context,
    );
    expect(out).toEqual({
      'x-custom': 'kept',
      accept: 'application/json',
      'x-forwarded-for': '10.0.0.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'gw.example',
      'x-request-id': 'req-1',
      'x-auth-subject': 'alice',
    });
  });

  it('appends to an existing X-Forwarded-For and replaces Authorization when told', () => {
    const out = upstreamRequestHeaders(
      { 'x-forwarded-for': '1.2.3.4', authorization: 'Bearer client-jwt' },
      { ...context, subject: undefined, upstreamAuthorization: 'Bearer service-token' },
    );
    expect(out['x-forwarded-for']).toBe('1.2.3.4, 10.0.0.9');
    expect(out.authorization).toBe('Bearer service-token');
    expect(out['x-auth-subject']).toBeUndefined();
  });
});

describe('clientResponseHeaders', () => {
  it('drops hop-by-hop headers and names the instance', () => {
    expect(
      clientResponseHeaders(
        {
          'content-type': 'text/plain',
          'keep-alive': 'timeout=5',
          connection: 'close',
          'transfer-encoding': 'chunked',
          'set-cookie': ['a=1', 'b=2'],
          'x-request-id': 'upstream-id',
        },
        'orders-2',
      ),
    ).toEqual({
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
      'x-upstream-instance': 'orders-2',
    });
  });
});

describe('headerBytes', () => {
  it('counts names and values with separators', () => {
    expect(headerBytes(['host', 'a', 'x', 'yz'])).toBe(4 + 2 + 1 + 2 + 1 + 2 + 2 + 2);
  });
});
