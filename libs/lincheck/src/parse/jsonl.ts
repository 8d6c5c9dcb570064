import { InvalidOperationError, validateOperation, type History, type HistoryOperation } from '../history.js';
import { HistoryParseError } from './parse-error.js';

const kinds = new Set(['get', 'put', 'cas', 'delete', 'append']);

/**
 * Parses one JSON operation per line, the {@link KvOperation} shape:
 * `{"client": 3, "op": "cas", "key": "k", "value": "v", "expect": "old"|null, "call": 1234.5,
 *   "return": 1240.1|null, "ok": true, "result": "v"|null}`. Keys start absent. Blank lines are
 * skipped. `append` is accepted too, as in Jepsen's kv histories. For an unknown outcome
 * (`"return": null`), `ok` may be `null` or left out.
 */
export function parseJsonl(text: string): History {
  const operations: HistoryOperation[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      throw new HistoryParseError(line, `not JSON: ${(error as Error).message}`);
    }
    const op = toOperation(line, parsed);
    try {
      validateOperation(op, operations.length);
    } catch (error) {
      if (error instanceof InvalidOperationError)
        throw new HistoryParseError(line, error.message.replace(/^operation \d+: /, ''));
      throw error;
    }
    operations.push(op);
  });
  return { format: 'jsonl', initialValue: null, operations };
}

function toOperation(line: number, parsed: unknown): HistoryOperation {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HistoryParseError(line, 'expected a JSON object');
  }
  const o = parsed as Record<string, unknown>;
  const fail = (reason: string): never => {
    throw new HistoryParseError(line, reason);
  };
  if (typeof o.client !== 'number' || !Number.isInteger(o.client)) fail('"client" must be an integer');
  if (typeof o.op !== 'string' || !kinds.has(o.op)) fail('"op" must be one of get, put, cas, delete, append');
  if (typeof o.key !== 'string') fail('"key" must be a string');
  if (typeof o.call !== 'number') fail('"call" must be a number');
  if (o.return !== null && typeof o.return !== 'number') fail('"return" must be a number or null');
  // An operation of unknown outcome has no outcome to report: `"ok": null`, or no `ok` at all, is
  // accepted for it (as other recorders write it) and read as false.
  const unknownOutcome = o.return === null;
  if (typeof o.ok !== 'boolean' && !(unknownOutcome && (o.ok === null || o.ok === undefined)))
    fail(unknownOutcome ? '"ok" must be true, false, null or absent' : '"ok" must be true or false');
  const op = {
    client: o.client as number,
    op: o.op as HistoryOperation['op'],
    key: o.key as string,
    call: o.call as number,
    return: o.return as number | null,
    ok: o.ok === true,
  } as HistoryOperation;
  for (const field of ['value', 'expect', 'result'] as const) {
    const value = o[field];
    if (value === undefined) continue;
    if (value !== null && typeof value !== 'string') fail(`"${field}" must be a string or null`);
    op[field] = value as string | null;
  }
  return op;
}
