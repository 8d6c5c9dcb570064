import type { Dispatcher, Pool } from 'undici';

/**
 * Errors that mean the connection died before any answer: a pooled keep-alive socket the leader had just closed
 * (its idle timeout and our reuse crossed), or a leader restarting. The request may still have reached the
 * leader when the socket broke mid-request, so only a request that is safe to send twice is retried.
 */
const STALE_SOCKET_CODES: ReadonlySet<string> = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

export function errorCode(error: unknown): string | undefined {
  const e = error as { code?: string; cause?: { code?: string } } | null;
  return e?.code ?? e?.cause?.code;
}

/** Idle forwarding sockets are closed by us well before the leader's keep-alive timeout (72 s) closes them. */
export const FORWARD_KEEP_ALIVE_MS = 30_000;

/**
 * Sends one request to the leader. A request safe to repeat (reads, lease keep-alives: `resendable`) whose
 * pooled socket turns out to be dead is sent once more; the pool opens a fresh connection for it, since the
 * broken one is gone.
 */
export async function requestLeader(
  pool: Pool,
  options: Dispatcher.RequestOptions,
  resendable: boolean,
): Promise<Dispatcher.ResponseData> {
  try {
    return await pool.request(options);
  } catch (error) {
    const code = errorCode(error);
    if (!resendable || code === undefined || !STALE_SOCKET_CODES.has(code)) throw error;
    return pool.request(options);
  }
}

/** Requests the leader may safely receive twice: reads, and lease keep-alives (renewing twice is renewing). */
export function isResendable(method: string, path: string): boolean {
  if (method === 'GET' || method === 'HEAD') return true;
  return method === 'POST' && /^\/v1\/leases\/[^/?]+\/keepalive(?:\?|$)/.test(path);
}
