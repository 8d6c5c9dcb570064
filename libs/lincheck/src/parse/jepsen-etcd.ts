import type { History, HistoryOperation } from '../history.js';
import { HistoryParseError } from './parse-error.js';
import { InvocationPairer, type Completion } from './pairing.js';

/** The key the single register is filed under in the common form. */
export const registerKey = 'register';

const opLine = /jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)(?:\s+(.*?))?\s*$/;
/** A jepsen.util line that starts like an operation must parse as one: anything else is corrupt input. */
const looksLikeOp = /jepsen\.util\s+-\s+\d+\s+:/;
const casValue = /^\[\s*(\S+)\s+(\S+)\s*\]$/;

/**
 * Parses a Jepsen etcd log (one register, initial `nil`): `INFO jepsen.util - P :type :f value` lines,
 * fields separated by tabs or spaces; every other line is ignored. `:fail` becomes `ok: false` with a
 * known return (a failed cas saw another value), `:info` and operations still open at the end become
 * unknown outcomes (`return: null`).
 */
export function parseJepsenEtcd(text: string): History {
  const pairer = new InvocationPairer();
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (!raw.includes('jepsen.util')) return;
    const match = opLine.exec(raw);
    if (match === null) {
      if (looksLikeOp.test(raw)) throw new HistoryParseError(line, `unreadable operation: ${raw.trim()}`);
      return;
    }
    const [, processText = '', type = '', f = '', valueText = ''] = match;
    const process = Number(processText);
    if (type === 'invoke') {
      pairer.invoke(line, process, f, invocation(line, process, f, valueText));
    } else {
      pairer.complete(line, process, f, type as Completion, (op) => {
        if (f === 'read') op.result = registerValue(line, valueText);
      });
    }
  });
  return { format: 'jepsen-etcd', initialValue: null, operations: pairer.operations };
}

function invocation(line: number, process: number, f: string, valueText: string): HistoryOperation {
  const base = { client: process, key: registerKey, call: line, return: null, ok: false };
  switch (f) {
    case 'read':
      return { ...base, op: 'get' };
    case 'write':
      return { ...base, op: 'put', value: requireValue(line, valueText) };
    default: {
      const cas = casValue.exec(valueText);
      if (cas === null)
        throw new HistoryParseError(line, `cas needs [from to], got ${JSON.stringify(valueText)}`);
      return {
        ...base,
        op: 'cas',
        expect: registerValue(line, cas[1] ?? ''),
        value: requireValue(line, cas[2] ?? ''),
      };
    }
  }
}

function registerValue(line: number, token: string): string | null {
  if (token === 'nil') return null;
  if (token === '' || /\s/.test(token))
    throw new HistoryParseError(line, `bad register value ${JSON.stringify(token)}`);
  return token;
}

function requireValue(line: number, token: string): string {
  const value = registerValue(line, token);
  if (value === null) throw new HistoryParseError(line, 'cannot write nil');
  return value;
}
