import type { Fetch } from './sources.js';

/** One coordinator lock (`locks/{name}/{lease}`) as the range API returns it. */
export interface LockEntry {
  readonly key: string;
  readonly createRevision: number;
  readonly lease?: string;
  readonly value?: string;
}

/** Who holds one singleton job lock. */
export interface SingletonHolder {
  /** The job (the lock's name, `{service}-…`). */
  readonly job: string;
  readonly service: string;
  /** The holder's lease (its lock key's last segment); the lock's value names the instance when it set one. */
  readonly lease: string;
  readonly holder: string | null;
  /** The lock's fencing token: the holder's key's create revision, larger for every new holder. */
  readonly fencingToken: number;
  /** Instances queued behind the holder. */
  readonly waiting: number;
  /** When this console first saw this holder with this token (ms since the epoch). */
  readonly sinceMs: number;
}

/**
 * The holders of every lock, from the coordinator's `locks/` keys (pure): per lock name the key with the lowest
 * create revision holds it (the coordinator grants locks in create-revision order). `seen` keeps when each
 * (job, token) was first seen, so "since" survives polls; entries of finished terms are dropped from it.
 */
export function singletonHolders(
  entries: readonly LockEntry[],
  seen: Map<string, number>,
  nowMs: number,
): SingletonHolder[] {
  const byName = new Map<string, LockEntry[]>();
  for (const entry of entries) {
    const match = /^locks\/([^/]+)\/(.+)$/.exec(entry.key);
    if (match === null) continue;
    const name = match[1] ?? '';
    byName.set(name, [...(byName.get(name) ?? []), entry]);
  }
  const current = new Set<string>();
  const holders: SingletonHolder[] = [];
  for (const [job, queue] of [...byName.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const sorted = [...queue].sort((a, b) => a.createRevision - b.createRevision);
    const head = sorted[0];
    if (head === undefined) continue;
    const id = `${job}@${head.createRevision}`;
    current.add(id);
    if (!seen.has(id)) seen.set(id, nowMs);
    holders.push({
      job,
      service: job.split('-')[0] ?? job,
      lease: head.lease ?? head.key.slice(`locks/${job}/`.length),
      holder: head.value !== undefined && head.value !== '' ? head.value : null,
      fencingToken: head.createRevision,
      waiting: sorted.length - 1,
      sinceMs: seen.get(id) ?? nowMs,
    });
  }
  for (const id of [...seen.keys()]) if (!current.has(id)) seen.delete(id);
  return holders;
}

/** Reads the coordinator's locks through the console's read-only token, from the first node that answers. */
export class SingletonHolderSource {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly settings: {
      readonly coordinatorUrls: readonly string[];
      readonly coordinatorToken: string | undefined;
      readonly requestTimeoutMs: number;
    },
    private readonly fetchFn: Fetch,
    private readonly nowMs: () => number,
  ) {}

  async holders(): Promise<{ holders: SingletonHolder[]; error: string | null }> {
    let lastError = 'no coordinator configured';
    for (const url of this.settings.coordinatorUrls) {
      try {
        const response = await this.fetchFn(
          `${url}/v1/kv?prefix=${encodeURIComponent('locks/')}&limit=1000`,
          {
            headers: {
              accept: 'application/json',
              ...(this.settings.coordinatorToken === undefined
                ? {}
                : { authorization: `Bearer ${this.settings.coordinatorToken}` }),
            },
            signal: AbortSignal.timeout(this.settings.requestTimeoutMs),
          },
        );
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const body = (await response.json()) as { items?: LockEntry[] };
        return { holders: singletonHolders(body.items ?? [], this.seen, this.nowMs()), error: null };
      } catch (error) {
        lastError = `${url}: ${(error as Error).message}`;
      }
    }
    return { holders: [], error: lastError };
  }
}
