/** The coordinator answered with a problem body (4xx, or 5xx after retries). */
export class CoordinatorHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
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

/** A failure before the request reached the server: safe to retry any method on another node. */
export function failedBeforeSending(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } } | null)?.cause?.code;
  return (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EAI_AGAIN' ||
    code === 'UND_ERR_CONNECT_TIMEOUT'
  );
}
