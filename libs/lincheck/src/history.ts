/**
 * The common history form every parser produces and the checker consumes.
 *
 * Times are numbers on one clock shared by all clients (milliseconds, ticks or line numbers: only their
 * order matters). An operation's interval is closed: two operations are concurrent unless one returned
 * strictly before the other was called, which is the reading that accepts the most histories, so a
 * reported violation never comes from a tie on the clock.
 */

/** The operations of the key/value state machine, as the Raft simulator records them. */
export type KvOperationKind = 'get' | 'put' | 'cas' | 'delete';

/**
 * One client operation against a key/value map.
 *
 * - `get`: `result` is the value read, `null` when the key was absent.
 * - `put`: sets `value`. `delete`: removes the key.
 * - `cas`: sets `value` if the key holds `expect`; `expect: null` means "only if absent". `ok` says
 *   whether it swapped, so a completed `cas` with `ok: false` observed a different value.
 * - `put`/`delete` with `ok: false` and a known return certainly did not happen.
 * - `return: null`: the outcome is unknown (a time-out, a crash); the operation may take effect at any
 *   moment after `call`, or never.
 */
export interface KvOperation {
  client: number;
  op: KvOperationKind;
  key: string;
  value?: string | null;
  expect?: string | null;
  call: number;
  return: number | null;
  ok: boolean;
  result?: string | null;
}

/** Appends `value` to the key's text (Jepsen's kv histories); the same fields as {@link KvOperation}. */
export interface AppendOperation extends Omit<KvOperation, 'op'> {
  op: 'append';
}

export type HistoryOperation = KvOperation | AppendOperation;

export type HistoryFormat = 'jepsen-etcd' | 'jepsen-kv' | 'jsonl';

/** A parsed history: its operations and the value every key holds before the first one. */
export interface History {
  format: HistoryFormat;
  /** `null`: keys start absent (etcd's `nil`, our kv store); `''` for Jepsen's kv histories. */
  initialValue: string | null;
  operations: HistoryOperation[];
}

/** Why an operation cannot be checked; thrown by the checker so a malformed recording is not a verdict. */
export class InvalidOperationError extends Error {
  constructor(
    readonly index: number,
    reason: string,
  ) {
    super(`operation ${index}: ${reason}`);
    this.name = 'InvalidOperationError';
  }
}

/** Throws {@link InvalidOperationError} when an operation lacks what its kind needs. */
export function validateOperation(op: HistoryOperation, index: number): void {
  const fail = (reason: string): never => {
    throw new InvalidOperationError(index, reason);
  };
  if (!Number.isFinite(op.call)) fail('call must be a finite number');
  if (op.return !== null) {
    if (!Number.isFinite(op.return)) fail('return must be a finite number or null');
    if (op.return < op.call) fail(`returns (${op.return}) before it is called (${op.call})`);
  }
  if (typeof op.key !== 'string') fail('key must be a string');
  const known = op.return !== null && op.ok;
  switch (op.op) {
    case 'get':
      if (known && op.result === undefined) fail('a completed get needs a result (null when absent)');
      break;
    case 'put':
    case 'append':
      if (typeof op.value !== 'string') fail(`${op.op} needs a string value`);
      break;
    case 'cas':
      if (typeof op.value !== 'string') fail('cas needs a string value');
      if (op.expect === undefined) fail('cas needs expect (null for only-if-absent)');
      break;
    case 'delete':
      break;
    default:
      fail(`unknown op ${JSON.stringify((op as { op: unknown }).op)}`);
  }
}
