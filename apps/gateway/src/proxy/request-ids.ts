import { randomBytes } from 'node:crypto';

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Request ids without a random UUID per request: a random 8-byte prefix per process and a counter
 * (`3f9c0a1b2c3d4e5f-1a`), unique across restarts and gateways. A well-formed id sent by the client (from an
 * outer proxy) is kept, so one id follows a request end to end; anything else is replaced.
 */
export class RequestIds {
  private readonly prefix = randomBytes(8).toString('hex');
  private counter = 0;

  from(incoming: string | string[] | undefined): string {
    if (typeof incoming === 'string' && SAFE_ID.test(incoming)) return incoming;
    this.counter++;
    return `${this.prefix}-${this.counter.toString(36)}`;
  }
}
