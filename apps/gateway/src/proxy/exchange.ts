import type { ServerResponse } from 'node:http';
import { type Clock, codeOf, failedBeforeSend, isIdempotentMethod } from '@concord/resilience';
import type { Pool } from 'undici';
import type { InstanceSlot, ServicePool, ServicePools } from '../upstreams/service-pools.js';
import { clientResponseHeaders } from './headers.js';
import type { LimitedBody } from './request-body.js';

/** Responses up to this size with a Content-Length are buffered and sent with their head, not streamed. */
const SMALL_BODY_BYTES = 64 * 1024;
/**
 * Buffered answers up to this size go out as one latin1 string that Node appends to the head: the flush is
 * then one chunk (plus Node's empty end marker) instead of the head string, a body Buffer and the marker, which
 * Node's writev has to gather from mixed strings and buffers. Still one writev syscall either way (strace);
 * latin1 maps bytes 1:1, so any body passes unchanged.
 */
const ONE_WRITE_BYTES = 16 * 1024;
const RETRYABLE_STATUSES = new Set([502, 503, 504]);

/** What an exchange reports when it ends (the proxy counts and logs it). */
export interface ExchangeOutcome {
  readonly status: number;
  /** The instance that answered or was tried last ("-" when none). */
  readonly instance: string;
  /** Set when the gateway answered itself (no upstream answer passed on). */
  readonly failure?: 'no-instance' | 'timeout' | 'upstream' | 'body-too-large' | 'client-gone';
  readonly detail?: string;
}

/** The collaborators of an exchange, passed explicitly (no service locator). */
export interface ExchangeDependencies {
  readonly pools: ServicePools<Pool>;
  readonly clock: Clock;
  /** Passive health: a failed try (5xx, timeout, transport error) or a good one. */
  readonly recordHealth: (service: string, id: string, failed: boolean) => void;
  readonly onRetry: (routeLabel: string, reason: string) => void;
  readonly onBudgetExhausted: (routeLabel: string) => void;
  readonly onChoice: (service: string, passedOver: number, panic: boolean) => void;
  /** Called once, when the client has its answer (or is gone). */
  readonly onDone: (context: unknown, outcome: ExchangeOutcome) => void;
}

export interface ExchangeRequest {
  /** Handed back to onDone as is (the caller's state for this request). */
  readonly context: unknown;
  readonly pool: ServicePool<Pool>;
  readonly routeLabel: string;
  readonly keyHash: number;
  readonly method: string;
  /** Upstream path with the query string. */
  readonly path: string;
  readonly headers: string[];
  readonly body: LimitedBody | undefined;
  readonly requestId: string;
  readonly deadlineMs: number;
  readonly perTryTimeoutMs: number;
  readonly maxAttempts: number;
  /** Extra time granted to tries while a request body is still arriving (0 without a body). */
  readonly uploadAllowanceMs: number;
}

/** A failure of one try, with what it means for the instance and for a retry. */
class TryFailure extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'upstream' | 'local',
    readonly countsAgainstInstance: boolean,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/**
 * One request's trip upstream, as a plain state machine driven by undici's dispatch callbacks: no promise,
 * AbortController or timer of its own. Each try goes to the next distinct instance of the key's preference
 * order; its timeout is undici's headersTimeout (undici's shared timers); the request deadline bounds the
 * tries. A try's outcome goes to the instance's breaker and passive health, except local failures (the
 * client went away, its body was too large, a request undici refused) which say nothing about the instance.
 * Retries go through the service's retry budget. Small answers are buffered and written with their headers
 * in one write; larger ones stream with backpressure (the upstream is paused while the client is slow).
 */
export class Exchange {
  tried: string[] | undefined;
  private slot: InstanceSlot<Pool> | undefined;
  private controller: TryHandler | undefined;
  private attempt = 0;
  private readonly startedMs: number;
  /** Tries whose callbacks are to be ignored from now on (aborted for a retry or after the end). */
  private liveAttempt = 0;
  private committed = false;
  private finished = false;
  private clientGone = false;
  private buffered: Buffer[] | undefined;
  private bufferedBytes = 0;
  private status = 0;
  private upstreamHeaders: string[] | undefined;
  private lastFailure: TryFailure | undefined;

  constructor(
    private readonly deps: ExchangeDependencies,
    private readonly request: ExchangeRequest,
    private readonly res: ServerResponse,
  ) {
    this.startedMs = deps.clock.nowMs();
    res.once('close', this.onClientClose);
  }

  /** Starts the first try. */
  start(): void {
    this.request.pool.budget.recordRequest();
    this.next();
  }

  private readonly onClientClose = (): void => {
    if (this.res.writableFinished || this.finished) return;
    this.clientGone = true;
    if (this.controller !== undefined && !this.controller.aborted) {
      this.controller.abort(new TryFailure('client closed the connection', 'local', false, false));
    } else {
      this.end({ status: 499, instance: this.slot?.instance.id ?? '-', failure: 'client-gone' });
    }
  };

  private next(): void {
    const { request, deps } = this;
    const remainingMs =
      request.deadlineMs + request.uploadAllowanceMs - (deps.clock.nowMs() - this.startedMs);
    if (remainingMs <= 0) {
      this.fail(this.lastFailure ?? new TryFailure('deadline exceeded', 'timeout', false, false));
      return;
    }
    const choice = deps.pools.choose(request.pool, request.keyHash, this.tried);
    if (choice === undefined) {
      this.fail(this.lastFailure);
      return;
    }
    if (choice.passedOver > 0 || choice.panic)
      deps.onChoice(request.pool.service, choice.passedOver, choice.panic);
    const slot = choice.slot;
    this.slot = slot;
    (this.tried ??= []).push(slot.instance.id);
    request.pool.loads.acquire(slot.instance.id);
    this.attempt++;
    this.liveAttempt = this.attempt;
    this.buffered = undefined;
    this.bufferedBytes = 0;
    this.upstreamHeaders = undefined;
    const handler = new TryHandler(this, this.attempt);
    slot.client.dispatch(
      {
        path: request.path,
        method: request.method,
        headers: request.headers,
        body: request.body ?? null,
        headersTimeout: Math.max(
          1,
          Math.min(request.perTryTimeoutMs + request.uploadAllowanceMs, remainingMs),
        ),
        bodyTimeout: request.deadlineMs,
      },
      handler,
    );
  }

  /** @internal */
  onStart(attempt: number, controller: TryHandler): void {
    if (attempt !== this.liveAttempt) {
      controller.abort(new TryFailure('superseded', 'local', false, false));
      return;
    }
    this.controller = controller;
    if (this.clientGone)
      controller.abort(new TryFailure('client closed the connection', 'local', false, false));
  }

  /** @internal Returns false to pause the upstream. */
  onHeaders(attempt: number, controller: TryHandler, status: number, rawHeaders: Buffer[]): boolean {
    if (attempt !== this.liveAttempt) return true;
    if (status >= 100 && status < 200) return true;
    const slot = this.slot!;
    const { service } = slot;
    const id = slot.instance.id;
    if (!(status >= 200 && status <= 599)) {
      // An answer no HTTP client can pass on: the instance is broken, the client gets a 502.
      controller.abort(
        new TryFailure(`upstream ${id} answered an invalid status ${status}`, 'upstream', true, false),
      );
      return true;
    }
    const failed = status >= 500;
    slot.breaker.record(failed, this.deps.clock.nowMs());
    this.deps.recordHealth(service, id, failed);
    if (failed && RETRYABLE_STATUSES.has(status) && this.mayRetry(false)) {
      const failure = new TryFailure(`upstream ${id} answered ${status}`, 'upstream', false, true);
      this.lastFailure = failure;
      this.deps.onRetry(this.request.routeLabel, String(status));
      this.release();
      this.liveAttempt = 0;
      controller.abort(failure);
      this.next();
      return true;
    }
    this.status = status;
    this.committed = true;
    const head = clientResponseHeaders(rawHeaders, id, this.request.requestId);
    this.upstreamHeaders = head.headers;
    if (
      this.request.method === 'HEAD' ||
      (head.contentLength >= 0 && head.contentLength <= SMALL_BODY_BYTES)
    ) {
      this.buffered = [];
    } else {
      this.res.writeHead(status, this.upstreamHeaders);
    }
    return true;
  }

  /** @internal Returns false to pause the upstream (the client is slow: resumed on 'drain'). */
  onData(attempt: number, controller: TryHandler, chunk: Buffer): boolean {
    if (attempt !== this.liveAttempt) return true;
    if (this.buffered !== undefined) {
      this.buffered.push(chunk);
      this.bufferedBytes += chunk.length;
      return true;
    }
    if (this.res.write(chunk)) return true;
    this.res.once('drain', () => controller.resume());
    return false;
  }

  /** @internal */
  onEnd(attempt: number): void {
    if (attempt !== this.liveAttempt) return;
    this.release();
    const res = this.res;
    if (this.buffered !== undefined) {
      const chunks = this.buffered;
      res.writeHead(this.status, this.upstreamHeaders);
      if (this.bufferedBytes === 0) res.end();
      else if (this.bufferedBytes <= ONE_WRITE_BYTES) {
        let text = '';
        for (const chunk of chunks) text += chunk.toString('latin1');
        res.end(text, 'latin1');
      } else res.end(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    } else {
      res.end();
    }
    this.end({ status: this.status, instance: this.slot!.instance.id });
  }

  /** @internal */
  onError(attempt: number, error: Error): void {
    if (attempt !== this.liveAttempt) return;
    this.release();
    const slot = this.slot!;
    const failure = this.classify(error);
    if (failure.countsAgainstInstance && !this.clientGone) {
      slot.breaker.record(true, this.deps.clock.nowMs());
      this.deps.recordHealth(slot.service, slot.instance.id, true);
    } else if (slot.breaker.state === 'halfOpen') {
      slot.breaker.releaseTrial();
    }
    if (this.committed) {
      // Headers are out: the only honest signal left is to cut the connection.
      this.res.destroy(error);
      this.end({ status: this.status, instance: slot.instance.id });
      return;
    }
    this.lastFailure = failure;
    if (failure.retryable && this.mayRetry(failedBeforeSend(error))) {
      this.deps.onRetry(
        this.request.routeLabel,
        failure.kind === 'timeout' ? 'timeout' : (codeOf(error) ?? 'error'),
      );
      this.next();
      return;
    }
    this.fail(failure);
  }

  private classify(error: Error): TryFailure {
    if (error instanceof TryFailure) return error;
    if (this.request.body?.tooLarge === true)
      return new TryFailure('request body too large', 'local', false, false);
    const code = codeOf(error);
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ETIMEDOUT') {
      return new TryFailure(
        `upstream ${this.slot!.instance.id} did not answer in time`,
        'timeout',
        true,
        true,
      );
    }
    // undici refusing the request itself (a header it will not send, a bad argument): the instance never saw it.
    if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED' || code === 'UND_ERR_ABORTED') {
      return new TryFailure(`request refused locally: ${error.message}`, 'local', false, false);
    }
    if (this.request.body !== undefined && this.request.body.destroyed && this.request.body.errored) {
      return new TryFailure('request body failed', 'local', false, false);
    }
    return new TryFailure(
      `upstream ${this.slot!.instance.id} failed: ${code ?? error.message}`,
      'upstream',
      true,
      true,
    );
  }

  private mayRetry(neverSent: boolean): boolean {
    const { request } = this;
    if (this.clientGone || this.attempt >= request.maxAttempts) return false;
    if (!neverSent && !isIdempotentMethod(request.method)) return false;
    // A body already (partly) sent upstream cannot be sent again.
    if (request.body?.consumed === true) return false;
    if (this.deps.clock.nowMs() - this.startedMs >= request.deadlineMs + request.uploadAllowanceMs)
      return false;
    // Another instance must be left to try, or this answer (or failure) is the last word.
    const tried = this.tried;
    if (this.deps.pools.choose(request.pool, request.keyHash, tried, false) === undefined) return false;
    if (!request.pool.budget.tryAcquireRetry()) {
      this.deps.onBudgetExhausted(request.routeLabel);
      return false;
    }
    return true;
  }

  private release(): void {
    const slot = this.slot;
    if (slot === undefined) return;
    const loads = this.request.pool.loads;
    if (loads.inFlight(slot.instance.id) > 0) loads.release(slot.instance.id);
  }

  private fail(failure: TryFailure | undefined): void {
    const instance = this.slot?.instance.id ?? '-';
    const service = this.request.pool.service;
    if (this.clientGone) {
      this.end({ status: 499, instance, failure: 'client-gone' });
    } else if (this.request.body?.tooLarge === true) {
      this.end({ status: 413, instance, failure: 'body-too-large' });
    } else if (failure === undefined) {
      this.end({
        status: 503,
        instance,
        failure: 'no-instance',
        detail: `no instance of service "${service}" is available`,
      });
    } else if (failure.kind === 'timeout') {
      this.end({
        status: 504,
        instance,
        failure: 'timeout',
        detail: `service "${service}" did not answer in time (${this.tried?.length ?? 0} instance(s) tried)`,
      });
    } else {
      this.end({
        status: 502,
        instance,
        failure: 'upstream',
        detail: `service "${service}" failed: ${failure.message}`,
      });
    }
  }

  private end(outcome: ExchangeOutcome): void {
    if (this.finished) return;
    this.finished = true;
    this.liveAttempt = -1;
    this.res.off('close', this.onClientClose);
    this.deps.onDone(this.request.context, outcome);
  }
}

/**
 * undici's handler for one try, in undici's raw handler API (onConnect/onHeaders/onData/onComplete/onError):
 * undici calls it directly with the raw header list, where the newer controller API (onRequestStart ...)
 * wraps every request in an adapter and parses the headers into an object first. It forwards to the
 * exchange with the try's number (stale tries are ignored) and is the try's controller (abort, resume).
 */
class TryHandler {
  private abortTry: ((reason?: Error) => void) | undefined;
  private resumeTry: (() => void) | undefined;
  aborted = false;

  constructor(
    private readonly exchange: Exchange,
    private readonly attempt: number,
  ) {}

  abort(reason: Error): void {
    if (this.aborted) return;
    this.aborted = true;
    // Before onConnect undici has given no abort function yet: onConnect aborts then.
    this.abortTry?.(reason);
  }

  resume(): void {
    this.resumeTry?.();
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abortTry = abort;
    if (this.aborted) {
      abort(new TryFailure('superseded', 'local', false, false));
      return;
    }
    this.exchange.onStart(this.attempt, this);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.resumeTry = resume;
    return this.exchange.onHeaders(this.attempt, this, statusCode, rawHeaders);
  }

  onData(chunk: Buffer): boolean {
    return this.exchange.onData(this.attempt, this, chunk);
  }

  onComplete(): void {
    this.exchange.onEnd(this.attempt);
  }

  onError(error: Error): void {
    this.exchange.onError(this.attempt, error);
  }
}
