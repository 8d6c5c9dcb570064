import { describe, expect, it } from 'vitest';
import { decodeNestReply, encodeNestRequest, RemoteCallError } from './nest-nats.js';

describe('the @nestjs/microservices NATS wire format', () => {
  it('wraps a request as {pattern, data, id}', () => {
    const packet = JSON.parse(encodeNestRequest('room.book', { a: 1 })) as Record<string, unknown>;
    expect(packet).toMatchObject({ pattern: 'room.book', data: { a: 1 } });
    expect(typeof packet.id).toBe('string');
  });

  it('unwraps a response, and turns a handler error into a RemoteCallError (to be retried)', () => {
    const reply = { ok: false, reason: 'sold out' };
    expect(decodeNestReply('s', JSON.stringify({ id: '1', response: reply, isDisposed: true }))).toEqual(
      reply,
    );
    expect(() => decodeNestReply('s', JSON.stringify({ id: '1', err: 'boom', isDisposed: true }))).toThrow(
      RemoteCallError,
    );
    expect(() => decodeNestReply('s', JSON.stringify({ id: '1', isDisposed: true }))).toThrow(
      /empty response/,
    );
  });
});
