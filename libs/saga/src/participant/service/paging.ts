import { ProblemException } from '@concord/platform';
import { z } from 'zod';

/** One page of a keyset-paged list. */
export interface Page<T> {
  readonly items: readonly T[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/** `?limit=&cursor=` of a paged list, with the service's own cap on `limit`. */
export function pageQuery(limitMax: number) {
  return z.strictObject({
    limit: z.coerce.number().int('must be an integer').min(1, 'must be >= 1').max(limitMax).default(50),
    cursor: z.string().min(1).max(200).optional(),
  });
}

/**
 * A page from rows read with `LIMIT limit` after the cursor's key: a full page has a next cursor (the last row's
 * key), a short one is the last. Cursors are opaque to clients (base64url of the key).
 */
export function pageOf<T>(items: readonly T[], limit: number, keyOf: (item: T) => string | number): Page<T> {
  const last = items.at(-1);
  return items.length === limit && last !== undefined
    ? { items, nextCursor: Buffer.from(String(keyOf(last)), 'utf8').toString('base64url') }
    : { items };
}

/** The key inside a cursor from {@link pageOf}; a 400 problem for anything else. */
export function cursorKey(cursor: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (key.length === 0) throw new ProblemException(400, 'cursor: not a cursor this service returned');
  return key;
}

/** A numeric key (a serial id) inside a cursor from {@link pageOf}. */
export function cursorId(cursor: string): number {
  const id = Number(cursorKey(cursor));
  if (!Number.isSafeInteger(id) || id < 0)
    throw new ProblemException(400, 'cursor: not a cursor this service returned');
  return id;
}
