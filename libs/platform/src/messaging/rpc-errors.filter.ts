import { type ArgumentsHost, Catch, Logger, type RpcExceptionFilter } from '@nestjs/common';
import type { NatsContext } from '@nestjs/microservices';
import { type Observable, throwError } from 'rxjs';

/**
 * Turns anything a NATS handler throws (a lock timeout, a lost database connection) into an error reply, which
 * the caller treats as a transport failure and retries; never a business refusal. Controller-scoped, so it takes
 * precedence over the app's global HTTP problem filter, which cannot answer a NATS request.
 */
@Catch()
export class RpcErrorsFilter implements RpcExceptionFilter<unknown> {
  private readonly logger = new Logger('NatsHandler');

  catch(exception: unknown, host: ArgumentsHost): Observable<never> {
    const message = exception instanceof Error ? exception.message : String(exception);
    const subject = host.switchToRpc().getContext<NatsContext | undefined>()?.getSubject();
    this.logger.warn(`${subject ?? 'nats'}: failed, the caller will retry: ${message}`);
    return throwError(() => ({ status: 'error', message }));
  }
}
