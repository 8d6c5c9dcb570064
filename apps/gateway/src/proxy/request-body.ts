import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { TryTimeoutError } from '@concord/resilience';

/** Passes the request body on, counting bytes; fails the upload past the limit (413). */
export class LimitedBody extends Transform {
  bytes = 0;
  tooLarge = false;
  constructor(private readonly limitBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limitBytes) {
      this.tooLarge = true;
      callback(new Error(`request body exceeds ${this.limitBytes} bytes`));
      return;
    }
    callback(null, chunk);
  }

  /** True once any byte went upstream, or the stream broke: it cannot be sent again. */
  get consumed(): boolean {
    return this.destroyed || this.readableDidRead;
  }
}

/** Wraps the client's request stream in a {@link LimitedBody}. */
export function limitBody(payload: Readable, limitBytes: number): LimitedBody {
  const limited = new LimitedBody(limitBytes);
  payload.on('error', (error) => limited.destroy(error));
  limited.on('error', () => {
    // Not pipeline(): it would destroy the client's socket, and the 413 (or 5xx) could not be sent.
    payload.unpipe(limited);
    payload.resume();
  });
  payload.pipe(limited);
  return limited;
}

/**
 * A try's signal when the request has a body: it aborts with `outer`, or `timeoutMs` after the client has
 * finished sending the body. A large upload takes the time it takes (CLIENT_REQUEST_TIMEOUT_MS bounds it), and
 * the try's timeout only covers waiting for the answer.
 */
export function uploadTimeout(
  body: LimitedBody,
  outer: AbortSignal,
  timeoutMs: number,
): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(outer.reason);
  outer.addEventListener('abort', onOuterAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    timer = setTimeout(() => controller.abort(new TryTimeoutError(timeoutMs)), timeoutMs);
  };
  if (body.writableFinished) arm();
  else body.once('finish', arm);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      body.off('finish', arm);
      outer.removeEventListener('abort', onOuterAbort);
    },
  };
}
