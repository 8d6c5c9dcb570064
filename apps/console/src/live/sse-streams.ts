import type { ServerResponse } from 'node:http';

/**
 * The open event streams, so shutdown can end them (an open stream would otherwise hold SIGTERM for the whole
 * grace period) and so a slow page cannot make the console buffer without bound.
 */
export class SseStreams {
  private readonly open = new Set<ServerResponse>();
  /** A page whose socket has this much unsent data is cut off; it reconnects and gets a fresh picture. */
  static readonly BUFFERED_BYTES_MAX = 1024 * 1024;

  add(response: ServerResponse): void {
    this.open.add(response);
    response.once('close', () => this.open.delete(response));
  }

  /** Writes one SSE frame; answers false (and ends the stream) when the page cannot keep up. */
  send(response: ServerResponse, event: string, data: unknown): boolean {
    if (response.writableLength > SseStreams.BUFFERED_BYTES_MAX) {
      response.end();
      return false;
    }
    response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    return true;
  }

  endAll(): void {
    for (const r of this.open) r.end();
    this.open.clear();
  }

  get size(): number {
    return this.open.size;
  }
}
