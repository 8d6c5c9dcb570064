import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Observable, throwError } from 'rxjs';

/**
 * Errors are JSON problem bodies (RFC 9457): `{type, title, status, detail, requestId, ...extensions}`.
 * A 4xx says what was wrong with the request; a 5xx never leaks internals (they go to the log).
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  requestId?: string;
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function problem(status: number, detail?: string, extensions: Record<string, unknown> = {}): Problem {
  return { type: 'about:blank', title: TITLES[status] ?? 'Error', status, detail, ...extensions };
}

/** Throw this from any layer to answer with a problem body of the given status. */
export class ProblemException extends HttpException {
  constructor(status: number, detail: string, extensions: Record<string, unknown> = {}) {
    super(problem(status, detail, extensions), status);
  }
}

/** Maps anything thrown into a problem body. Registered globally by the platform. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void | Observable<never> {
    if (host.getType() !== 'http') {
      // A message handler (NATS): answer the requester with an error reply it can act on, never crash the
      // transport. Business refusals are ordinary replies; this is for what was thrown.
      const body = toProblem(exception);
      if (body.status >= 500) {
        this.logger.error(
          exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
        );
      }
      const error =
        exception instanceof RpcException
          ? exception.getError()
          : { status: body.status, message: body.detail };
      return throwError(() => error);
    }
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const body = toProblem(exception);
    body.requestId = request.id;
    if (body.status >= 500) {
      this.logger.error(
        exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
      );
    }
    if (reply.sent) return;
    void reply.status(body.status).type('application/problem+json').send(body);
  }
}

export function toProblem(exception: unknown): Problem {
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const response = exception.getResponse();
    if (typeof response === 'object' && response !== null && 'type' in response && 'status' in response) {
      return { ...(response as Problem) };
    }
    const message =
      typeof response === 'string'
        ? response
        : (response as { message?: unknown }).message !== undefined
          ? (response as { message: unknown }).message
          : exception.message;
    const detail = Array.isArray(message) ? message.join('; ') : String(message);
    return problem(status, detail);
  }
  // Errors raised by Fastify itself (bad JSON, body too large, bad content type) carry a 4xx statusCode.
  const statusCode = (exception as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return problem(statusCode, (exception as Error).message);
  }
  return problem(500, 'The server failed to handle the request; see its log for the request id.');
}
