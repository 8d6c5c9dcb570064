/** The coordinator answered with a problem body (4xx, or 5xx after retries). */
export class CoordinatorHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    /** From `X-Concord-Outcome` on a 503: `notApplied` or `unknown`. */
    readonly outcome: string | null = null,
  ) {
    super(
      `coordinator answered ${status}: ${typeof body.detail === 'string' ? body.detail : typeof body.title === 'string' ? body.title : ''}`,
    );
    this.name = 'CoordinatorHttpError';
  }
}

/** No coordinator node could be reached (every node tried, retries spent). */
export class CoordinatorUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CoordinatorUnavailableError';
  }
}
