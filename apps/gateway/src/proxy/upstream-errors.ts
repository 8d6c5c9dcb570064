import { codeOf, DeadlineExceededError, TryTimeoutError } from '@concord/resilience';
import type { Dispatcher } from 'undici';
import type { UpstreamInstance } from '../upstreams/static-upstreams.js';

/** No instance of the service may take the request (none registered, all open, ejected or tried). */
export class NoInstanceError extends Error {
  readonly code = 'ENOINSTANCE';
  constructor(readonly service: string) {
    super(`no instance of service "${service}" is available`);
  }
}

/** An upstream answered 5xx: a failure for its breaker, and the answer itself if no retry replaces it. */
export class UpstreamResponseError extends Error {
  readonly status: number;
  constructor(
    readonly response: Dispatcher.ResponseData,
    readonly instance: UpstreamInstance,
  ) {
    super(`upstream ${instance.id} answered ${response.statusCode}`);
    this.status = response.statusCode;
  }
}

export function isTimeout(error: unknown): boolean {
  if (error instanceof TryTimeoutError || error instanceof DeadlineExceededError) return true;
  const code = codeOf(error);
  return code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT';
}

/** Label of a retried failure in metrics: the status, "timeout", or the error code. */
export function reasonOf(error: unknown): string {
  if (error instanceof UpstreamResponseError) return String(error.status);
  if (isTimeout(error)) return 'timeout';
  return codeOf(error) ?? 'error';
}
