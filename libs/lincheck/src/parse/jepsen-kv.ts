import type { History, HistoryOperation } from '../history.js';
import { Keyword, readEdn, type EdnMap, type EdnValue } from './edn.js';
import { HistoryParseError } from './parse-error.js';
import { InvocationPairer, type Completion } from './pairing.js';

const kinds = { get: 'get', put: 'put', append: 'append' } as const;

/**
 * Parses a Jepsen key/value history: one EDN map per line,
 * `{:process P, :type :invoke|:ok|:fail|:info, :f :get|:put|:append, :key "K", :value "V"}`.
 * Every key starts as the empty string. Operations by a non-numeric process (Jepsen's `:nemesis`)
 * are fault injection, not client operations, and are skipped.
 */
export function parseJepsenKv(text: string): History {
  const pairer = new InvocationPairer();
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    const event = readEvent(line, raw);
    if (event === undefined) return;
    const { process, type, f, key, value } = event;
    if (type === 'invoke') {
      const base = { client: process, key, call: line, return: null, ok: false };
      const op: HistoryOperation =
        f === 'get' ? { ...base, op: 'get' } : { ...base, op: f, value: requireString(line, value, f) };
      pairer.invoke(line, process, f, op);
    } else {
      pairer.complete(line, process, f, type, (op) => {
        if (f === 'get') op.result = value === null ? null : requireString(line, value, 'get result');
      });
    }
  });
  return { format: 'jepsen-kv', initialValue: '', operations: pairer.operations };
}

interface KvEvent {
  process: number;
  type: 'invoke' | Completion;
  f: keyof typeof kinds;
  key: string;
  value: EdnValue;
}

function readEvent(line: number, raw: string): KvEvent | undefined {
  let parsed: EdnValue;
  try {
    parsed = readEdn(raw.trim());
  } catch (error) {
    throw new HistoryParseError(line, `not an EDN map: ${(error as Error).message}`);
  }
  if (!(parsed instanceof Map)) throw new HistoryParseError(line, 'expected an EDN map');
  const process = parsed.get('process');
  if (process instanceof Keyword) return undefined;
  if (typeof process !== 'number') throw new HistoryParseError(line, ':process must be an integer');
  const type = keyword(line, parsed, 'type', ['invoke', 'ok', 'fail', 'info']);
  const f = keyword(line, parsed, 'f', Object.keys(kinds) as (keyof typeof kinds)[]);
  const key = parsed.get('key');
  if (typeof key !== 'string' && typeof key !== 'number')
    throw new HistoryParseError(line, ':key must be a string');
  return { process, type, f, key: String(key), value: parsed.get('value') ?? null };
}

function keyword<T extends string>(line: number, map: EdnMap, field: string, allowed: readonly T[]): T {
  const value = map.get(field);
  if (value instanceof Keyword && (allowed as readonly string[]).includes(value.name)) return value.name as T;
  throw new HistoryParseError(line, `:${field} must be one of ${allowed.map((a) => `:${a}`).join(' ')}`);
}

function requireString(line: number, value: EdnValue, what: string): string {
  if (typeof value !== 'string') throw new HistoryParseError(line, `${what} needs a string :value`);
  return value;
}
