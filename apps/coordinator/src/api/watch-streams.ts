import { type BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';

/**
 * Open watch (SSE) responses. They never end on their own, so shutdown ends them before the server drains;
 * clients resume elsewhere from their last revision.
 */
@Injectable()
export class WatchStreams implements BeforeApplicationShutdown {
  private readonly open = new Set<ServerResponse>();

  add(response: ServerResponse, onEnd: () => void): void {
    this.open.add(response);
    response.once('close', () => {
      this.open.delete(response);
      onEnd();
    });
  }

  /** Streams open now. */
  get size(): number {
    return this.open.size;
  }

  beforeApplicationShutdown(): void {
    for (const response of this.open) response.end();
    this.open.clear();
  }
}
