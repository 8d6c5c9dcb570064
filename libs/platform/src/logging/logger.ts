import { AsyncLocalStorage } from 'node:async_hooks';
import type { LoggerService } from '@nestjs/common';
import { type DestinationStream, pino, type Logger } from 'pino';
import { activeTraceIds } from '../tracing/tracing.js';

/** The request being served, so that every log line written while serving it carries its id. */
export interface RequestContext {
  readonly requestId: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}

/** One JSON object per line on stdout: `{"level":"info","time":...,"app":"orders","requestId":...,"msg":...}`. */
export function createLogger(
  app: string,
  instance: string,
  level: string,
  destination: DestinationStream = pino.destination(1),
): Logger {
  return pino(
    {
      level,
      base: { app, instance },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // The request id, and with tracing on the active span's trace and span ids (W3C hex), on every line.
      mixin: () => {
        const requestId = currentRequestId();
        const ids = activeTraceIds();
        if (ids === undefined) return requestId === undefined ? {} : { requestId };
        return requestId === undefined
          ? { traceId: ids.traceId, spanId: ids.spanId }
          : { requestId, traceId: ids.traceId, spanId: ids.spanId };
      },
    },
    destination,
  );
}

/** Routes Nest's own logging (and every `new Logger(context)`) into the JSON logger. */
export class JsonNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    if (isFields(message)) {
      // A structured event may name its own level (`{ level: 'debug', event: 'peer_connected' }`): it is logged
      // at that level, and the field is dropped so that the line carries one `level` key, pino's.
      const { level, ...fields } = message;
      const text =
        typeof fields.event === 'string' ? fields.event : typeof fields.msg === 'string' ? fields.msg : '';
      const method = typeof level === 'string' && isLevel(level) ? level : 'info';
      this.logger[method]({ context, ...fields }, text);
    } else this.logger.info({ context }, stringify(message));
  }
  error(message: unknown, stackOrContext?: string, context?: string): void {
    const isStack = context !== undefined || (stackOrContext?.includes('\n    at ') ?? false);
    this.logger.error(
      { context: isStack ? context : stackOrContext, stack: isStack ? stackOrContext : undefined },
      message instanceof Error ? message.message : stringify(message),
    );
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, stringify(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, stringify(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, stringify(message));
  }
  fatal(message: unknown, context?: string): void {
    this.logger.fatal({ context }, stringify(message));
  }
}

/** Structured events (`logger.log({ event: 'peer_connected', peer })`) keep their fields. */
function isFields(message: unknown): message is Record<string, unknown> {
  return (
    typeof message === 'object' && message !== null && !Array.isArray(message) && !(message instanceof Error)
  );
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

function isLevel(value: string): value is (typeof LEVELS)[number] {
  return (LEVELS as readonly string[]).includes(value);
}

function stringify(message: unknown): string {
  return typeof message === 'string' ? message : JSON.stringify(message);
}
