import { type BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { CoordinatorConfig } from '../config.js';
import { COORDINATOR_CONFIG } from './tokens.js';

/** How long a cut-off watcher gets to read its final event before the socket is destroyed. */
const CUTOFF_GRACE_MS = 30_000;

/**
 * Open watch (SSE) responses, counted per token (at most WATCHES_PER_TOKEN_MAX each). They never end on their
 * own, so shutdown ends them before the server drains; clients resume elsewhere from their last revision.
 * A watcher that does not read (more than WATCH_BUFFERED_BYTES_MAX queued in its socket) is cut off with a
 * final `cancelled` event naming the revision to resume from: a slow reader never makes this node buffer
 * without bound.
 */
@Injectable()
export class WatchStreams implements BeforeApplicationShutdown {
  private readonly open = new Set<ServerResponse>();
  private readonly perToken = new Map<string, number>();

  constructor(@Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig) {}

  /** Reserves a watch slot for the token; false when it already holds the maximum. */
  tryReserve(token: string): boolean {
    const n = this.perToken.get(token) ?? 0;
    if (n >= this.config.WATCHES_PER_TOKEN_MAX) return false;
    this.perToken.set(token, n + 1);
    return true;
  }

  release(token: string): void {
    const n = (this.perToken.get(token) ?? 1) - 1;
    if (n <= 0) this.perToken.delete(token);
    else this.perToken.set(token, n);
  }

  add(response: ServerResponse, token: string, onEnd: () => void): void {
    this.open.add(response);
    response.once('close', () => {
      this.open.delete(response);
      this.release(token);
      onEnd();
    });
  }

  /**
   * Writes one chunk, or cuts the watcher off when its unread backlog is over the limit. Returns false once
   * the watcher is cut off (later chunks are dropped).
   */
  write(response: ServerResponse, chunk: string, resumeFrom: () => number): boolean {
    if (response.writableEnded || response.destroyed) return false;
    if (response.writableLength > this.config.WATCH_BUFFERED_BYTES_MAX) {
      const data = JSON.stringify({
        type: 'cancelled',
        reason: `slow watcher: more than ${this.config.WATCH_BUFFERED_BYTES_MAX} bytes unread`,
        resumeFromRevision: resumeFrom(),
      });
      response.end(`event: cancelled\ndata: ${data}\n\n`);
      setTimeout(() => response.destroy(), CUTOFF_GRACE_MS).unref();
      return false;
    }
    response.write(chunk);
    return true;
  }

  /** Open watches on this node (for tests and metrics). */
  count(): number {
    return this.open.size;
  }

  beforeApplicationShutdown(): void {
    for (const response of this.open) response.end();
    this.open.clear();
  }
}
