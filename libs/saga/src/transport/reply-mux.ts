import {
  createInbox,
  type MsgHdrs,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';

/**
 * Request/reply over one subscription per connection, with no promise-library deferred, no Error and no timer
 * per request. The client's own `request()` allocates a `RequestError` ("cancelled") on every successful reply
 * (its resolver cancels itself after resolving) and arms a timer per request; the orchestrator's profile showed
 * that error, with the stack trace and source-map lookups it pulls in, among its top costs (docs/transactions.md).
 *
 * Replies arrive on `<inbox>.<n>`, `<inbox>` made with the connection's own inbox prefix (its NATS permissions
 * allow only that). Deadlines are checked by one sweep every `sweepMs` while anything is pending, so a request
 * times out between `timeoutMs` and `timeoutMs + sweepMs` after it was sent.
 */
export class ReplyMux {
  private readonly pending = new Map<number, Pending>();
  private connection: NatsConnection | undefined;
  private subscription: Subscription | undefined;
  private prefix = '';
  private next = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly clock: () => number = Date.now,
    private readonly sweepMs = 25,
  ) {}

  /** Sends `data` to `subject` and resolves with the reply; rejects on the deadline or with no responders. */
  request(
    nc: NatsConnection,
    subject: string,
    data: string,
    timeoutMs: number,
    headers?: MsgHdrs,
  ): Promise<Msg> {
    this.attach(nc);
    const token = (this.next += 1);
    return new Promise<Msg>((resolve, reject) => {
      this.pending.set(token, { subject, resolve, reject, deadlineMs: this.clock() + timeoutMs });
      this.sweeper ??= setInterval(() => this.sweep(), this.sweepMs).unref();
      try {
        const reply = `${this.prefix}${token}`;
        nc.publish(subject, data, headers === undefined ? { reply } : { reply, headers });
      } catch (error) {
        this.pending.delete(token);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Requests in flight (for tests and metrics). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Fails every pending request and drops the subscription (the connection is its owner's to close). */
  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.connection = undefined;
    for (const [token, request] of this.pending) {
      this.pending.delete(token);
      request.reject(new ReplyTimeoutError(request.subject, 'closed'));
    }
    this.stopSweeping();
  }

  /** (Re)subscribes when the connection is new or its subscription ended; replies to the old one are lost. */
  private attach(nc: NatsConnection): void {
    if (this.connection === nc && this.subscription !== undefined && !this.subscription.isClosed()) return;
    this.subscription?.unsubscribe();
    const inbox = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.prefix = `${inbox}.`;
    this.connection = nc;
    this.subscription = nc.subscribe(`${inbox}.*`, {
      callback: (error, message) => this.deliver(error, message),
    });
  }

  private deliver(error: Error | null, message: Msg): void {
    if (error !== null) return;
    const token = Number(message.subject.slice(this.prefix.length));
    const request = this.pending.get(token);
    if (request === undefined) return; // late: its deadline already failed it
    this.pending.delete(token);
    if (this.pending.size === 0) this.stopSweeping();
    if (message.data.length === 0 && message.headers?.code === 503) {
      request.reject(new NoRespondersError(request.subject));
    } else {
      request.resolve(message);
    }
  }

  private sweep(): void {
    const now = this.clock();
    for (const [token, request] of this.pending) {
      if (request.deadlineMs > now) continue;
      this.pending.delete(token);
      request.reject(new ReplyTimeoutError(request.subject, 'no reply before the deadline'));
    }
    if (this.pending.size === 0) this.stopSweeping();
  }

  private stopSweeping(): void {
    if (this.sweeper === undefined) return;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

interface Pending {
  readonly subject: string;
  readonly resolve: (message: Msg) => void;
  readonly reject: (error: Error) => void;
  readonly deadlineMs: number;
}

export class ReplyTimeoutError extends Error {
  override readonly name = 'ReplyTimeoutError';
  constructor(
    readonly subject: string,
    detail: string,
  ) {
    super(`${subject}: ${detail}`);
  }
}

export class NoRespondersError extends Error {
  override readonly name = 'NoRespondersError';
  constructor(readonly subject: string) {
    super(`${subject}: no responders`);
  }
}
