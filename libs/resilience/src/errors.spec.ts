import { describe, expect, it } from 'vitest';
import {
  DeadlineExceededError,
  TryTimeoutError,
  UpstreamError,
  failedBeforeSend,
  isIdempotentMethod,
  isNeutralForBreaker,
  retryableFor,
} from './errors.js';

const connectRefused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

describe('failure classification', () => {
  it('knows which failures happened before the request was sent', () => {
    expect(failedBeforeSend(connectRefused)).toBe(true);
    expect(failedBeforeSend(new UpstreamError('refused locally', { sent: false }))).toBe(true);
    expect(failedBeforeSend(Object.assign(new Error('open'), { code: 'EOPENBREAKER' }))).toBe(true);
    expect(failedBeforeSend(reset)).toBe(false);
    expect(failedBeforeSend(new UpstreamError('bad gateway', { status: 502 }))).toBe(false);
    expect(failedBeforeSend('not an error')).toBe(false);
  });

  it('keeps 4xx and bulkhead rejections from counting against an instance', () => {
    expect(isNeutralForBreaker(new UpstreamError('not found', { status: 404 }))).toBe(true);
    expect(isNeutralForBreaker({ statusCode: 429 })).toBe(true);
    expect(isNeutralForBreaker(Object.assign(new Error('Semaphore locked'), { code: 'ESEMLOCKED' }))).toBe(
      true,
    );
    expect(isNeutralForBreaker(new UpstreamError('boom', { status: 500 }))).toBe(false);
    expect(isNeutralForBreaker(reset)).toBe(false);
  });

  it('retries idempotent methods on transport failures and 502/503/504, others only if never sent', () => {
    const get = retryableFor('get');
    const post = retryableFor('POST');
    expect(isIdempotentMethod('put')).toBe(true);
    expect(isIdempotentMethod('PATCH')).toBe(false);
    expect(get(reset)).toBe(true);
    expect(get(new TryTimeoutError(100))).toBe(true);
    expect(get(new UpstreamError('unavailable', { status: 503 }))).toBe(true);
    expect(get(new UpstreamError('app error', { status: 500 }))).toBe(false);
    expect(get(new UpstreamError('bad request', { status: 400 }))).toBe(false);
    expect(get(new DeadlineExceededError(1000))).toBe(false);
    expect(post(reset)).toBe(false);
    expect(post(new UpstreamError('unavailable', { status: 503 }))).toBe(false);
    expect(post(connectRefused)).toBe(true);
  });
});
