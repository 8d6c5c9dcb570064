/**
 * Failure classification shared by the breaker's error filter and the retry predicate. An upstream call
 * fails in one of three ways that matter: before the request left (safe to retry anything), after it left
 * with no usable answer (retry only idempotent methods), or with an HTTP answer (4xx is the client's
 * problem and never counts against the instance; 5xx does).
 */

/** Node and undici error codes that mean the request never reached the upstream application. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  // A breaker that is open or a bulkhead that is full refused the call locally.
  'EOPENBREAKER',
  'ESEMLOCKED',
]);

export interface UpstreamErrorInit {
  readonly status?: number;
  readonly code?: string;
  /** False when the request provably never left this process (connect failure, local rejection). */
  readonly sent?: boolean;
  readonly cause?: unknown;
}

/** An upstream call's failure: an HTTP status that should count, or a transport failure. */
export class UpstreamError extends Error {
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly sent: boolean;

  constructor(message: string, init: UpstreamErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'UpstreamError';
    this.status = init.status;
    this.code = init.code;
    this.sent = init.sent ?? true;
  }
}

/** One try ran out of its own time (the overall deadline may still allow another). */
export class TryTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly timeoutMs: number) {
    super(`try timed out after ${timeoutMs} ms`);
    this.name = 'TryTimeoutError';
  }
}

/** The overall deadline passed; `cause` is the last try's failure, if any. */
export class DeadlineExceededError extends Error {
  readonly code = 'EDEADLINE';
  constructor(
    readonly deadlineMs: number,
    cause?: unknown,
  ) {
    super(`deadline of ${deadlineMs} ms exceeded`, cause === undefined ? undefined : { cause });
    this.name = 'DeadlineExceededError';
  }
}

function field(error: unknown, name: string): unknown {
  return typeof error === 'object' && error !== null ? (error as Record<string, unknown>)[name] : undefined;
}

/** The HTTP status carried by an error (`status` or `statusCode`), if any. */
export function statusOf(error: unknown): number | undefined {
  const status = field(error, 'status') ?? field(error, 'statusCode');
  return typeof status === 'number' ? status : undefined;
}

export function codeOf(error: unknown): string | undefined {
  const code = field(error, 'code');
  return typeof code === 'string' ? code : undefined;
}

/** True when the request certainly did not reach the upstream application. */
export function failedBeforeSend(error: unknown): boolean {
  if (field(error, 'sent') === false) return true;
  const code = codeOf(error);
  return code !== undefined && NOT_SENT_CODES.has(code);
}

/** A 4xx answer: the upstream worked and said no. */
export function isClientError(error: unknown): boolean {
  const status = statusOf(error);
  return status !== undefined && status >= 400 && status < 500;
}

/** A bulkhead (opossum capacity) rejection: the instance was never tried. */
export function isBulkheadRejection(error: unknown): boolean {
  return codeOf(error) === 'ESEMLOCKED';
}

/**
 * The breaker's error filter: 4xx answers and bulkhead rejections say nothing about the instance's
 * health, so they must not open its breaker (opossum counts a filtered error as a success).
 */
export function isNeutralForBreaker(error: unknown): boolean {
  return isClientError(error) || isBulkheadRejection(error);
}

/** RFC 9110 section 9.2.2: methods whose repetition has the same effect as one request. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
]);

export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(method.toUpperCase());
}

/** Statuses worth another instance: the upstream or a proxy in front of it could not serve. */
const RETRYABLE_STATUSES = new Set([502, 503, 504]);

/**
 * The gateway's retry rule: a request that never left can go anywhere; one that did may be repeated
 * only if its method is idempotent, and only for failures another instance might not have (transport
 * errors, timeouts, 502/503/504). A 4xx, or a 500 from the application itself, is the answer.
 */
export function retryableFor(method: string): (error: unknown) => boolean {
  const idempotent = isIdempotentMethod(method);
  return (error) => {
    if (failedBeforeSend(error)) return true;
    if (!idempotent) return false;
    const status = statusOf(error);
    if (status !== undefined) return RETRYABLE_STATUSES.has(status);
    return !(error instanceof DeadlineExceededError);
  };
}
